// @aws-sdk/client-sqs (the JSON protocol: X-Amz-Target, AWS JSON 1.0) against `thumbpipe serve`.
// The SDK checks MD5OfBody / MD5OfMessageBody itself on every send and receive.
// Usage: node sqs_js_sdk_test.mjs ENDPOINT ACCESS_KEY SECRET_KEY
import assert from "node:assert/strict";
import {
  SQSClient, CreateQueueCommand, GetQueueUrlCommand, ListQueuesCommand, GetQueueAttributesCommand,
  SendMessageCommand, SendMessageBatchCommand, ReceiveMessageCommand, DeleteMessageCommand,
  ChangeMessageVisibilityCommand, PurgeQueueCommand, StartMessageMoveTaskCommand,
  ListMessageMoveTasksCommand, DeleteMessageBatchCommand,
} from "@aws-sdk/client-sqs";

const [endpoint, accessKeyId, secretAccessKey] = process.argv.slice(2);
const client = (secret = secretAccessKey) => new SQSClient({
  endpoint, region: "us-east-1", credentials: { accessKeyId, secretAccessKey: secret }, maxAttempts: 1,
});
const sqs = client();
const arn = (name) => `arn:aws:sqs:us-east-1:000000000000:${name}`;

async function errorOf(promise) {
  try {
    await promise;
  } catch (e) {
    return { name: e.name, status: e.$metadata?.httpStatusCode };
  }
  assert.fail("expected an error");
}

async function counts(url) {
  const a = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["All"] }))).Attributes;
  return [a.ApproximateNumberOfMessages, a.ApproximateNumberOfMessagesNotVisible].map(Number);
}

// Queues, with the dead-letter queue named by its ARN.
await sqs.send(new CreateQueueCommand({ QueueName: "js-dlq" }));
const { QueueUrl: url } = await sqs.send(new CreateQueueCommand({
  QueueName: "js",
  Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: arn("js-dlq"), maxReceiveCount: 1 }) },
}));
assert.equal(url, `${endpoint}/000000000000/js`);
assert.equal((await sqs.send(new GetQueueUrlCommand({ QueueName: "js-dlq" }))).QueueUrl, url + "-dlq");
assert.deepEqual((await sqs.send(new ListQueuesCommand({ QueueNamePrefix: "js" }))).QueueUrls, [url, url + "-dlq"]);
assert.deepEqual(await errorOf(sqs.send(new GetQueueUrlCommand({ QueueName: "absent" }))),
                 { name: "QueueDoesNotExist", status: 400 });

// Send and receive, with message attributes.
const sent = await sqs.send(new SendMessageCommand({
  QueueUrl: url, MessageBody: "from js ✓",
  MessageAttributes: { n: { DataType: "Number", StringValue: "7" }, b: { DataType: "Binary", BinaryValue: Uint8Array.from([0, 255]) } },
}));
assert.ok(sent.MessageId && sent.MD5OfMessageAttributes);
const received = await sqs.send(new ReceiveMessageCommand({
  QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
  MessageSystemAttributeNames: ["ApproximateReceiveCount", "SentTimestamp"], MessageAttributeNames: ["All"],
}));
assert.equal(received.Messages.length, 1);
const m = received.Messages[0];
assert.equal(m.Body, "from js ✓");
assert.equal(m.Attributes.ApproximateReceiveCount, "1");
assert.equal(m.MessageAttributes.n.StringValue, "7");
assert.deepEqual([...m.MessageAttributes.b.BinaryValue], [0, 255]);
assert.equal(m.MD5OfMessageAttributes, sent.MD5OfMessageAttributes);
assert.deepEqual(await counts(url), [0, 1]);

// maxReceiveCount 1: once its visibility ends, the next receive moves it to the DLQ.
await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: url, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 }));
assert.equal((await sqs.send(new ReceiveMessageCommand({ QueueUrl: url }))).Messages, undefined);
assert.deepEqual(await counts(url + "-dlq"), [1, 0]);

// StartMessageMoveTask moves it back (receive count reset); ListMessageMoveTasks reports it.
const task = await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: arn("js-dlq") }));
assert.ok(task.TaskHandle);
let tasks;
for (let i = 0; i < 500; i++) {  // polled with a deadline: the task runs on a thread of the server
  tasks = (await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: arn("js-dlq") }))).Results;
  if (tasks[0].Status !== "RUNNING") break;
  await new Promise((r) => setTimeout(r, 20));
}
assert.equal(tasks[0].Status, "COMPLETED");
assert.equal(tasks[0].ApproximateNumberOfMessagesMoved, 1);
const back = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MessageSystemAttributeNames: ["All"] }));
assert.equal(back.Messages[0].Body, "from js ✓");
assert.equal(back.Messages[0].Attributes.ApproximateReceiveCount, "1");
await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: back.Messages[0].ReceiptHandle }));
assert.deepEqual(await errorOf(sqs.send(new StartMessageMoveTaskCommand({ SourceArn: arn("js") }))),
                 { name: "InvalidParameterValue", status: 400 });

// Batches: partial failure is a 200 with Failed entries; request-level errors are errors.
const batch = await sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: [
  { Id: "a", MessageBody: "1" }, { Id: "b", MessageBody: "2", DelaySeconds: 0 },
] }));
assert.deepEqual(batch.Successful.map((e) => e.Id).sort(), ["a", "b"]);
assert.deepEqual(await errorOf(sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: [] }))),
                 { name: "EmptyBatchRequest", status: 400 });
const two = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10 }));
const del = await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: [
  ...two.Messages.map((x, i) => ({ Id: `d${i}`, ReceiptHandle: x.ReceiptHandle })), { Id: "bad", ReceiptHandle: "x" },
] }));
assert.equal(del.Successful.length, two.Messages.length);
assert.deepEqual(del.Failed.map((e) => [e.Id, e.Code]), [["bad", "ReceiptHandleIsInvalid"]]);
await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: "purged" }));
await sqs.send(new PurgeQueueCommand({ QueueUrl: url }));
assert.deepEqual(await counts(url), [0, 0]);

// A wrong secret is refused.
assert.deepEqual(await errorOf(client("wrong-secret-wrong-secret-00").send(new ListQueuesCommand({}))),
                 { name: "SignatureDoesNotMatch", status: 403 });
console.log("ok");
