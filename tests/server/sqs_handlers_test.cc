// The SQS actions in process, over real SQLite queues in a temp dir and a ManualClock: which
// requests reach the SQS API, that visibility and redrive follow the clock, and that no
// malformed request of any shape throws or crashes (each is an SQS error).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "common/clock.h"
#include "server/sqs_handlers.h"
#include "server/sqs_service.h"

namespace thumbpipe::server {
namespace {

using nlohmann::json;

HttpRequestHead Head(std::string method, std::string target, std::vector<HttpHeader> headers) {
  HttpRequestHead h;
  h.method = std::move(method);
  h.target = std::move(target);
  h.headers = std::move(headers);
  return h;
}

TEST(IsSqsRequest, RoutesOnlySqsShapes) {
  const HttpHeader form{"Content-Type", "application/x-www-form-urlencoded"};
  const HttpHeader s3_auth{"Authorization",
                           "AWS4-HMAC-SHA256 Credential=AK/20250101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=x"};
  const HttpHeader sqs_auth{"Authorization",
                            "AWS4-HMAC-SHA256 Credential=AK/20250101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=x"};
  EXPECT_TRUE(IsSqsRequest(Head("POST", "/", {{"X-Amz-Target", "AmazonSQS.ListQueues"}})));
  EXPECT_TRUE(IsSqsRequest(Head("POST", "/", {form})));
  EXPECT_TRUE(IsSqsRequest(Head("POST", "/000000000000/jobs", {form})));
  EXPECT_TRUE(IsSqsRequest(Head("GET", "/?Action=ListQueues", {sqs_auth})));
  EXPECT_TRUE(IsSqsRequest(Head("GET", "/?Action=ListQueues&X-Amz-Credential=AK%2F20250101%2Fus-east-1%2Fsqs%2Faws4_request", {})));
  // S3's own POSTs and requests stay S3's.
  EXPECT_FALSE(IsSqsRequest(Head("POST", "/bucket?delete", {s3_auth, {"Content-Type", "application/xml"}})));
  EXPECT_FALSE(IsSqsRequest(Head("POST", "/bucket", {{"Content-Type", "multipart/form-data; boundary=x"}})));
  EXPECT_FALSE(IsSqsRequest(Head("POST", "/bucket/key?uploads", {s3_auth})));
  EXPECT_FALSE(IsSqsRequest(Head("GET", "/", {s3_auth})));
  EXPECT_FALSE(IsSqsRequest(Head("POST", "/bucket/a/b", {form})));
  EXPECT_FALSE(IsSqsRequest(Head("POST", "/", {{"X-Amz-Target", "DynamoDB_20120810.ListTables"}})));
}

class SqsHandlersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sqs-handlers-" + std::to_string(std::random_device{}()) + "-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    SqsQueuesOptions o;
    o.defaults.path = dir_ / "queue.db";
    o.defaults.clock = &clock_;
    o.defaults.durable_sends = false;
    o.registry_file = dir_ / "queue.db.sqs.json";
    o.max_queues = 3;
    Result<std::unique_ptr<SqsQueues>> q = SqsQueues::Open(o, nullptr, {});
    ASSERT_TRUE(q.ok()) << q.status().ToString();
    queues_ = std::move(q).value();
  }
  void TearDown() override {
    queues_.reset();
    std::filesystem::remove_all(dir_);
  }

  SqsReply Call(std::string_view action, const json& request) {
    SqsContext ctx{*queues_, gate_, tasks_, clock_, "us-east-1", "http://h:1", "/"};
    return HandleSqsAction(ctx, action, request);
  }
  json Ok(std::string_view action, const json& request) {
    SqsReply r = Call(action, request);
    if (auto* e = std::get_if<sqs::Error>(&r)) {
      ADD_FAILURE() << action << ": " << e->code << " " << e->message;
      return json();
    }
    return std::get<json>(r);
  }
  std::string ErrorCode(std::string_view action, const json& request) {
    SqsReply r = Call(action, request);
    auto* e = std::get_if<sqs::Error>(&r);
    return e ? e->code : "(no error)";
  }

  ManualClock clock_;
  LongPollGate gate_{2};
  MoveTasks tasks_;
  std::filesystem::path dir_;
  std::unique_ptr<SqsQueues> queues_;
};

TEST_F(SqsHandlersTest, VisibilityAndRedriveFollowTheClock) {
  const std::string url = "http://h:1/000000000000/q";
  const std::string policy = R"({"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:q-dlq","maxReceiveCount":2})";
  Ok("CreateQueue", {{"QueueName", "q"}, {"Attributes", {{"VisibilityTimeout", "30"}, {"RedrivePolicy", policy}}}});
  Ok("SendMessage", {{"QueueUrl", url}, {"MessageBody", "m"}});
  const json names = {{"QueueUrl", url}, {"MessageSystemAttributeNames", {"ApproximateReceiveCount"}}};
  EXPECT_EQ(Ok("ReceiveMessage", names)["Messages"][0]["Attributes"]["ApproximateReceiveCount"], "1");
  EXPECT_FALSE(Ok("ReceiveMessage", names).contains("Messages"));  // hidden for 30 s
  clock_.Advance(std::chrono::seconds(31));
  EXPECT_EQ(Ok("ReceiveMessage", names)["Messages"][0]["Attributes"]["ApproximateReceiveCount"], "2");
  clock_.Advance(std::chrono::seconds(31));
  EXPECT_FALSE(Ok("ReceiveMessage", names).contains("Messages"));  // a third receive: to q-dlq
  EXPECT_EQ(Ok("GetQueueAttributes", {{"QueueUrl", url + "-dlq"}, {"AttributeNames", {"ApproximateNumberOfMessages"}}}),
            json({{"Attributes", {{"ApproximateNumberOfMessages", "1"}}}}));
  EXPECT_EQ(ErrorCode("CreateQueue", {{"QueueName", "q"}, {"Attributes", {{"VisibilityTimeout", "31"}}}}), "QueueNameExists");
  Ok("CreateQueue", {{"QueueName", "r"}});
  Ok("CreateQueue", {{"QueueName", "s"}});
  EXPECT_EQ(ErrorCode("CreateQueue", {{"QueueName", "t"}}), "OverLimit");  // max_queues 3
}

// The sqs:// client dead-letters with SendMessage to the DLQ carrying the thumbpipe.dead
// attribute (queue/sqs_codec.h) and then DeleteMessage: serve moves the message the receipt
// names to the dead side, with the reason, and shows the reason back on the DLQ.
TEST_F(SqsHandlersTest, SendToTheDeadSideMovesTheHeldMessage) {
  const std::string url = "http://h:1/000000000000/q";
  const std::string dlq = url + "-dlq";
  const std::string policy = R"({"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:q-dlq","maxReceiveCount":5})";
  Ok("CreateQueue", {{"QueueName", "q"}, {"Attributes", {{"VisibilityTimeout", "30"}, {"RedrivePolicy", policy}}}});
  const std::string id = Ok("SendMessage", {{"QueueUrl", url}, {"MessageBody", "corrupt.jpg"}})["MessageId"];
  const json got = Ok("ReceiveMessage", {{"QueueUrl", url}, {"AttributeNames", {"All"}}})["Messages"][0];
  const std::string receipt = got["ReceiptHandle"];
  auto dead_send = [&](const json& info) {
    return json{{"QueueUrl", dlq}, {"MessageBody", "corrupt.jpg"},
                {"MessageAttributes", {{"thumbpipe.dead", {{"DataType", "String"}, {"StringValue", info.dump()}}}}}};
  };
  const json info = {{"reason", "corrupt: truncated"}, {"id", id}, {"receipt", receipt},
                     {"sent_at_ms", std::stoll(got["Attributes"]["SentTimestamp"].get<std::string>())}, {"receive_count", 1}};

  EXPECT_EQ(ErrorCode("SendMessage", {{"QueueUrl", dlq}, {"MessageBody", "x"}}), "UnsupportedOperation");
  json no_receipt = info;
  no_receipt.erase("receipt");
  EXPECT_EQ(ErrorCode("SendMessage", dead_send(no_receipt)), "UnsupportedOperation");
  EXPECT_EQ(ErrorCode("SendMessageBatch", {{"QueueUrl", dlq}, {"Entries", {{{"Id", "a"}, {"MessageBody", "x"}}}}}),
            "UnsupportedOperation");
  json bad_receipt = info;
  bad_receipt["receipt"] = "not-a-receipt";
  EXPECT_EQ(ErrorCode("SendMessage", dead_send(bad_receipt)), "ReceiptHandleIsInvalid");
  {
    SqsContext ctx{*queues_, gate_, tasks_, clock_, "us-east-1", "http://h:1", "/", /*may_consume=*/false};
    SqsReply r = HandleSqsAction(ctx, "SendMessage", dead_send(info));
    ASSERT_TRUE(std::holds_alternative<sqs::Error>(r));
    EXPECT_EQ(std::get<sqs::Error>(r).code, "AccessDenied") << "moving a message is consuming it";
  }

  const json sent = Ok("SendMessage", dead_send(info));
  EXPECT_EQ(sent["MessageId"], id) << "the dead message keeps its id";
  EXPECT_EQ(sent["MD5OfMessageBody"], sqs::Md5OfBody("corrupt.jpg"));
  Ok("DeleteMessage", {{"QueueUrl", url}, {"ReceiptHandle", receipt}});  // the client's delete: nothing left to delete
  Ok("SendMessage", dead_send(info));  // a retried request moves nothing more
  const json count = {{"QueueUrl", dlq}, {"AttributeNames", {"ApproximateNumberOfMessages"}}};
  EXPECT_EQ(Ok("GetQueueAttributes", count)["Attributes"]["ApproximateNumberOfMessages"], "1");
  EXPECT_EQ(Ok("GetQueueAttributes", {{"QueueUrl", url}, {"AttributeNames", {"All"}}})["Attributes"]["ApproximateNumberOfMessages"],
            "0");

  const json shown = Ok("ReceiveMessage", {{"QueueUrl", dlq}, {"MessageAttributeNames", {"All"}},
                                           {"AttributeNames", {"ApproximateReceiveCount"}}})["Messages"][0];
  EXPECT_EQ(shown["MessageId"], id);
  EXPECT_EQ(shown["Body"], "corrupt.jpg");
  EXPECT_EQ(shown["Attributes"]["ApproximateReceiveCount"], "1");
  const json dead_info = json::parse(shown["MessageAttributes"]["thumbpipe.dead"]["StringValue"].get<std::string>());
  EXPECT_EQ(dead_info["reason"], "corrupt: truncated");
  EXPECT_EQ(dead_info["id"], id);
  EXPECT_EQ(dead_info["receive_count"], 1);
  EXPECT_EQ(dead_info["sent_at_ms"], info["sent_at_ms"]);
  EXPECT_FALSE(dead_info.contains("receipt"));
}

// The same move when the receipt is stale: the message went back and was received again,
// so the later holder decides; nothing moves and the send still succeeds.
TEST_F(SqsHandlersTest, SendToTheDeadSideWithAStaleReceiptMovesNothing) {
  const std::string url = "http://h:1/000000000000/q";
  Ok("CreateQueue", {{"QueueName", "q"}, {"Attributes", {{"VisibilityTimeout", "30"}}}});
  const std::string id = Ok("SendMessage", {{"QueueUrl", url}, {"MessageBody", "m"}})["MessageId"];
  const std::string old = Ok("ReceiveMessage", {{"QueueUrl", url}})["Messages"][0]["ReceiptHandle"];
  clock_.Advance(std::chrono::seconds(31));
  const std::string current = Ok("ReceiveMessage", {{"QueueUrl", url}})["Messages"][0]["ReceiptHandle"];
  const json info = {{"reason", "late"}, {"id", id}, {"receipt", old}};
  Ok("SendMessage", {{"QueueUrl", url + "-dlq"}, {"MessageBody", "m"},
                     {"MessageAttributes", {{"thumbpipe.dead", {{"DataType", "String"}, {"StringValue", info.dump()}}}}}});
  EXPECT_EQ(Ok("GetQueueAttributes", {{"QueueUrl", url + "-dlq"}, {"AttributeNames", {"ApproximateNumberOfMessages"}}})
                ["Attributes"]["ApproximateNumberOfMessages"],
            "0");
  Ok("ChangeMessageVisibility", {{"QueueUrl", url}, {"ReceiptHandle", current}, {"VisibilityTimeout", 10}});
}

TEST_F(SqsHandlersTest, MalformedRequestsAreErrorsNeverCrashes) {
  Ok("CreateQueue", {{"QueueName", "q"}});
  const std::string url = "http://h:1/000000000000/q";
  const std::vector<std::pair<std::string, json>> bad = {
      {"NoSuchAction", json::object()},
      {"SendMessage", json::array()},
      {"SendMessage", {{"QueueUrl", 5}}},
      {"SendMessage", {{"QueueUrl", url}}},
      {"SendMessage", {{"QueueUrl", url}, {"MessageBody", 7}}},
      {"SendMessage", {{"QueueUrl", url}, {"MessageBody", "x"}, {"DelaySeconds", "soon"}}},
      {"SendMessage", {{"QueueUrl", url}, {"MessageBody", "x"}, {"DelaySeconds", 1e300}}},
      {"SendMessage", {{"QueueUrl", url}, {"MessageBody", "x"}, {"MessageAttributes", json::array()}}},
      {"SendMessage", {{"QueueUrl", url}, {"MessageBody", "x"}, {"MessageAttributes", {{"a", 1}}}}},
      {"SendMessage", {{"QueueUrl", url}, {"MessageBody", std::string(2 << 20, 'x')}}},
      {"SendMessage", {{"QueueUrl", "http://h:1/123/q"}, {"MessageBody", "x"}}},
      {"SendMessage", {{"QueueUrl", "not a url"}, {"MessageBody", "x"}}},
      {"SendMessageBatch", {{"QueueUrl", url}, {"Entries", "x"}}},
      {"SendMessageBatch", {{"QueueUrl", url}, {"Entries", {1, 2}}}},
      {"SendMessageBatch", {{"QueueUrl", url}, {"Entries", {{{"Id", 3}}}}}},
      {"DeleteMessageBatch", {{"QueueUrl", url}, {"Entries", json::array()}}},
      {"ReceiveMessage", {{"QueueUrl", url}, {"MaxNumberOfMessages", 11}}},
      {"ReceiveMessage", {{"QueueUrl", url}, {"WaitTimeSeconds", -1}}},
      {"ReceiveMessage", {{"QueueUrl", url}, {"AttributeNames", "All"}}},
      {"ReceiveMessage", {{"QueueUrl", url}, {"MessageAttributeNames", {1}}}},
      {"DeleteMessage", {{"QueueUrl", url}, {"ReceiptHandle", "abc"}}},
      {"DeleteMessage", {{"QueueUrl", url}, {"ReceiptHandle", "dlq-peek.x"}}},
      {"ChangeMessageVisibility", {{"QueueUrl", url}, {"ReceiptHandle", "x"}, {"VisibilityTimeout", 43201}}},
      {"CreateQueue", {{"QueueName", std::string(81, 'a')}}},
      {"CreateQueue", {{"QueueName", "x"}, {"Attributes", {{"VisibilityTimeout", json::object()}}}}},
      {"CreateQueue", {{"QueueName", "x"}, {"Attributes", {{"RedrivePolicy", "not json"}}}}},
      {"CreateQueue", {{"QueueName", "x"}, {"Attributes", {{"Bogus", "1"}}}}},
      {"SetQueueAttributes", {{"QueueUrl", url}, {"Attributes", {{"MessageRetentionPeriod", "5"}}}}},
      {"GetQueueAttributes", {{"QueueUrl", url}, {"AttributeNames", {"Nope"}}}},
      {"ListQueues", {{"MaxResults", 0}}},
      {"ListQueues", {{"NextToken", "!!"}}},
      {"StartMessageMoveTask", {{"SourceArn", "arn:aws:sqs:us-east-1:000000000000:q"}}},
      {"StartMessageMoveTask", {{"SourceArn", "garbage"}}},
      {"ListMessageMoveTasks", {{"SourceArn", 1}}},
  };
  for (const auto& [action, request] : bad) {
    SqsReply r = Call(action, request);
    EXPECT_TRUE(std::holds_alternative<sqs::Error>(r)) << action << " " << request.dump().substr(0, 200);
  }
}

}  // namespace
}  // namespace thumbpipe::server
