// Captures what the AWS SDK for JavaScript v3 (@aws-sdk/client-s3) sends for PutObject, without
// a network: a request handler that records method, path, query, headers and body. The
// output (JSON lines, body in base64) is src/sigv4/testdata/jssdk_requests.jsonl, read by
// jssdk_interop_test.cc. Regenerate: npm install @aws-sdk/client-s3 in a scratch folder,
// copy this file there, `node jssdk_capture.mjs > jssdk_requests.jsonl`.
import { S3Client, PutObjectCommand } from "@aws-sdk/client-s3";
import { Readable } from "node:stream";

const captured = [];
const handler = {
  metadata: { handlerProtocol: "http/1.1" },
  async handle(request) {
    let body = request.body;
    let bytes;
    if (body === undefined || body === null) bytes = Buffer.alloc(0);
    else if (typeof body === "string" || body instanceof Uint8Array) bytes = Buffer.from(body);
    else {
      const parts = [];
      for await (const c of body) parts.push(Buffer.from(c));
      bytes = Buffer.concat(parts);
    }
    const query = Object.entries(request.query || {}).map(([k, v]) => v === null ? encodeURIComponent(k) : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&");
    captured.push({ method: request.method, path: request.path, query,
                    headers: Object.entries(request.headers), body: bytes.toString("base64") });
    return { response: { statusCode: 200, reason: 'OK', headers: { etag: '"x"' }, body: Readable.from([]) } };
  },
  updateHttpClientConfig() {}, httpHandlerConfigs() { return {}; }, destroy() {},
};
const client = new S3Client({ region: "us-east-1", endpoint: "http://127.0.0.1:9000", forcePathStyle: true,
  credentials: { accessKeyId: "AKIAEXAMPLEEXAMPLE01", secretAccessKey: "a-long-random-secret" },
  requestHandler: handler });
const data = Buffer.alloc(5000);
for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
await client.send(new PutObjectCommand({ Bucket: "bucket", Key: "uploads/cat one.jpg", Body: Readable.from([data.subarray(0, 1234), data.subarray(1234)]), ContentLength: data.length }));
await client.send(new PutObjectCommand({ Bucket: "bucket", Key: "uploads/buf.jpg", Body: data }));
await client.send(new PutObjectCommand({ Bucket: "bucket", Key: "uploads/crc32c.jpg", Body: Readable.from([data]), ContentLength: data.length, ChecksumAlgorithm: "CRC32C" }));
for (const c of captured) console.log(JSON.stringify(c));
