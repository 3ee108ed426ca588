// sharp_bench: the sharp side of bench/engine. Same photos, same three variants, same
// qualities and encoder settings as engine_bench; prints the same PASS/RESULT lines.
//
// Usage: node sharp_bench.mjs --photos DIR [--jobs N] [--passes 3] [--warmup 1]
//                             [--concurrency C] [--out-dir DIR]
//   --jobs N         photos in flight at once (a promise pool over a shared index)
//   --concurrency C  sharp.concurrency(C): libvips threads per image; 0 keeps sharp's
//                    default (on glibc without jemalloc sharp itself picks 1)
// libuv runs sharp's work on its thread pool, so the caller sets UV_THREADPOOL_SIZE >= N.
import { readFileSync } from 'node:fs';
import { readFile, readdir, mkdir, writeFile } from 'node:fs/promises';
import { join, extname, basename } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';

const { values: args } = parseArgs({
  options: {
    photos: { type: 'string', default: '../shared/corpus/photos' },
    jobs: { type: 'string', default: '1' },
    passes: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '0' },
    'out-dir': { type: 'string', default: '' },
  },
});
const jobs = Number(args.jobs);
const passes = Number(args.passes);
const warmup = Number(args.warmup);
const outDir = args['out-dir'];

// As sharp's own benchmark does: the operation cache would only pin decoded images.
sharp.cache(false);
if (Number(args.concurrency) > 0) sharp.concurrency(Number(args.concurrency));

// DESIGN.md's default recipe, spelled out with every setting that engine_bench and the
// vipsthumbnail command lines also use. rotate() with no angle is EXIF auto-orientation;
// metadata is stripped and output converted to sRGB by sharp's defaults.
const variants = [
  {
    name: 'small', ext: 'webp',
    make: (img) => img.resize(128, 128, { fit: 'cover', position: 'centre', withoutEnlargement: true })
      .webp({ quality: 80, effort: 4 }),
  },
  {
    name: 'medium', ext: 'jpg',
    make: (img) => img.resize(512, 512, { fit: 'inside', withoutEnlargement: true })
      .jpeg({ quality: 80, optimiseCoding: true, chromaSubsampling: '4:2:0', progressive: false,
              mozjpeg: false }),
  },
  {
    name: 'large', ext: 'webp',
    make: (img) => img.resize(1024, 1024, { fit: 'inside', withoutEnlargement: true })
      .webp({ quality: 80, effort: 4 }),
  },
];

const imageExt = new Set(['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff', '.heic', '.avif', '.gif']);

// Sorted the same way as engine_bench (byte order), so both see the photos in one order.
async function listPhotos(dir) {
  const names = (await readdir(dir)).filter((n) => imageExt.has(extname(n).toLowerCase()));
  names.sort((a, b) => (Buffer.compare(Buffer.from(a), Buffer.from(b))));
  return names.map((n) => join(dir, n));
}

// Variants of one photo run one after another, like the engine's: one photo is one job, and
// parallelism comes only from --jobs (and sharp's per-image threads).
async function makeAll(input, stem) {
  let bytes = 0;
  for (const v of variants) {
    const out = await v.make(sharp(input).rotate()).toBuffer();
    bytes += out.length;
    if (outDir) {
      await mkdir(join(outDir, v.name), { recursive: true });
      await writeFile(join(outDir, v.name, `${stem}.${v.ext}`), out);
    }
  }
  return bytes;
}

// A field of /proc/self/status in kB ("VmRSS", "VmHWM"); read between passes only.
function procStatusKb(field) {
  const text = readFileSync('/proc/self/status', 'utf8');
  const m = text.match(new RegExp(`^${field}:\\s+(\\d+)`, 'm'));
  return m ? Number(m[1]) : -1;
}

async function runPass(photos) {
  let next = 0;
  const stats = { images: 0, failures: 0, bytes: 0, firstError: '' };
  const worker = async () => {
    for (let i = next++; i < photos.length; i = next++) {
      try {
        const input = await readFile(photos[i]);
        stats.bytes += await makeAll(input, basename(photos[i], extname(photos[i])));
        stats.images++;
      } catch (err) {
        stats.failures++;
        if (!stats.firstError) stats.firstError = `${basename(photos[i])}: ${err.message}`;
      }
    }
  };
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: jobs }, worker));
  stats.seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return stats;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

async function main() {
  let photos;
  try {
    photos = await listPhotos(args.photos);
  } catch (err) {
    console.error(`sharp_bench: cannot list photos dir ${args.photos}: ${err.message}`);
    process.exit(2);
  }
  if (photos.length === 0) {
    console.error(`sharp_bench: no image files in ${args.photos}`);
    process.exit(2);
  }
  const rates = [];
  let failures = 0;
  let last;
  for (let pass = 0; pass < warmup + passes; pass++) {
    const timed = pass >= warmup;
    last = await runPass(photos);
    failures += last.failures;
    if (last.firstError) console.error(`sharp_bench: ${last.firstError}`);
    const rate = last.images / last.seconds;
    if (timed) rates.push(rate);
    console.log(`PASS n=${pass} timed=${timed ? 1 : 0} images=${last.images} failures=${last.failures} ` +
      `seconds=${last.seconds.toFixed(3)} ips=${rate.toFixed(3)} rss_kb=${procStatusKb('VmRSS')} ` +
      `hwm_kb=${procStatusKb('VmHWM')}`);
  }
  console.log(`RESULT mode=sharp jobs=${jobs} photos=${photos.length} variants=${variants.length} ` +
    `passes=${passes} median_ips=${median(rates).toFixed(3)} min_ips=${Math.min(...rates).toFixed(3)} ` +
    `max_ips=${Math.max(...rates).toFixed(3)} out_bytes=${last.bytes} failures=${failures} ` +
    `sharp=${sharp.versions.sharp} vips=${sharp.versions.vips} concurrency=${sharp.concurrency()} ` +
    `uv_threadpool=${process.env.UV_THREADPOOL_SIZE || 4} peak_rss_kb=${procStatusKb('VmHWM')}`);
  process.exit(failures === 0 ? 0 : 1);
}

main();
