// @aws-sdk/client-s3 (v3) against `thumbpipe serve`: it sends PUT bodies as aws-chunked with a
// CRC32 trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER) by default, which Debian's clients never
// do. Arguments: endpoint access-key secret-key. Prints "ok" and exits 0, or throws.
import { S3Client, PutObjectCommand, GetObjectCommand, ListObjectsV2Command, DeleteObjectCommand,
         CreateBucketCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import assert from "node:assert/strict";
import crypto from "node:crypto";

const [endpoint, accessKeyId, secretAccessKey] = process.argv.slice(2);
const s3 = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true,
                          credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 });

await s3.send(new CreateBucketCommand({ Bucket: "jssdk" }));
for (const size of [0, 1, 70000, 3 * 1024 * 1024 + 5]) {
  const body = crypto.randomBytes(size);
  const key = `sdk/obj ${size}+ü.bin`;
  const put = await s3.send(new PutObjectCommand({ Bucket: "jssdk", Key: key, Body: body }));
  assert.equal(put.ETag, `"${crypto.createHash("md5").update(body).digest("hex")}"`);
  // The verified CRC32 (trailer or header) is answered back, as S3 does.
  if (size > 0) assert.ok(put.ChecksumCRC32, `x-amz-checksum-crc32 in the response for ${size} bytes`);
  const got = await s3.send(new GetObjectCommand({ Bucket: "jssdk", Key: key }));
  const bytes = Buffer.from(await got.Body.transformToByteArray());
  assert.ok(bytes.equals(body), `round trip of ${size} bytes`);
}
const withSha = await s3.send(new PutObjectCommand({ Bucket: "jssdk", Key: "sdk/sha", Body: "text",
                                                     ChecksumAlgorithm: "SHA256" }));
assert.ok(withSha.ETag);
const uploaded = await s3.send(new PutObjectCommand({ Bucket: "images", Key: "uploads/from-js.png",
                                                      Body: crypto.randomBytes(1000) }));
assert.ok(uploaded.ETag);
const head = await s3.send(new HeadObjectCommand({ Bucket: "images", Key: "uploads/from-js.png" }));
assert.equal(head.ContentLength, 1000);
const list = await s3.send(new ListObjectsV2Command({ Bucket: "jssdk", Prefix: "sdk/" }));
assert.equal(list.KeyCount, 5);
await s3.send(new DeleteObjectCommand({ Bucket: "jssdk", Key: "sdk/sha" }));
let bad = null;
try {
  const wrong = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, maxAttempts: 1,
                               credentials: { accessKeyId, secretAccessKey: "x".repeat(40) } });
  await wrong.send(new PutObjectCommand({ Bucket: "jssdk", Key: "sdk/forged", Body: "forged" }));
} catch (e) {
  bad = e;
}
assert.equal(bad?.name, "SignatureDoesNotMatch");
console.log("ok");
