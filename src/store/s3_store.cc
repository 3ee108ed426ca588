// The S3 store: opening, addressing, buckets, objects, listing, copies and configuration.
// Writers and multipart uploads are in s3_multipart.cc.
#include "store/s3_store.h"

#include <pugixml.hpp>

#include <algorithm>
#include <cstring>
#include <limits>
#include <sstream>

#include "common/logging.h"
#include "sigv4/canonical.h"
#include "sigv4/crypto.h"
#include "store/md5.h"
#include "store/names.h"
#include "store/s3_store_impl.h"

namespace thumbpipe::store {
namespace internal {
namespace {

std::string Enc(std::string_view value) { return sigv4::UriEncode(value, /*keep_slash=*/false); }

// Appends "&name=value" (encoded) to a query string.
void AddParam(std::string* query, std::string_view name, std::string_view value) {
  if (!query->empty()) query->push_back('&');
  *query += Enc(name) + "=" + Enc(value);
}

Result<pugi::xml_document> ParseXml(const std::string& body, std::string_view what) {
  pugi::xml_document doc;
  if (!doc.load_buffer(body.data(), body.size())) {
    return Status::Unavailable("InternalError the " + std::string(what) + " reply is not XML");
  }
  return doc;
}

// A GET body read in chunks. If the connection breaks midway, the rest is asked for again
// with a Range and If-Match on the ETag, so a long read survives a dropped connection but
// never mixes two versions of the object.
class S3Reader final : public ObjectReader {
 public:
  S3Reader(S3Store* store, ObjectInfo info, std::unique_ptr<aws::ResponseStream> stream, uint64_t first,
           uint64_t length)
      : store_(store), info_(std::move(info)), stream_(std::move(stream)), next_(first), end_(first + length),
        length_known_(end_ != std::numeric_limits<uint64_t>::max()) {}

  const ObjectInfo& info() const override { return info_; }

  Result<size_t> Read(std::span<char> buffer) override {
    if (buffer.empty() || next_ >= end_) return size_t{0};
    for (int resumes = 0;; ++resumes) {
      Result<size_t> n = stream_ != nullptr ? stream_->Read(buffer)
                                            : Result<size_t>(Status::Unavailable("NetworkError no stream"));
      if (n.ok() && *n > 0) {
        next_ += *n;
        return n;
      }
      if (n.ok() && !length_known_) {
        end_ = next_;  // the reply announced no length: its end is the object's end
        return size_t{0};
      }
      if (n.ok()) n = Status::Unavailable("IncompleteBody the reply ended " + std::to_string(end_ - next_) +
                                          " bytes early");
      if (n.status().code() != StatusCode::kUnavailable || resumes >= store_->options().retry.max_attempts) {
        return n.status();
      }
      stream_.reset();
      aws::HttpRequest r = store_->Request("GET", info_.bucket, info_.key);
      r.headers.push_back({"Range", "bytes=" + std::to_string(next_) + "-" + std::to_string(end_ - 1)});
      r.headers.push_back({"If-Match", "\"" + info_.etag + "\""});
      r.context = "GET " + info_.bucket + "/" + info_.key + " (resumed)";
      auto reopened = store_->client().Open(r);
      if (!reopened.ok()) return reopened.status();
      stream_ = std::move(reopened).value();
    }
  }

 private:
  S3Store* store_;
  ObjectInfo info_;
  std::unique_ptr<aws::ResponseStream> stream_;
  uint64_t next_, end_;
  bool length_known_;
};

}  // namespace

S3Store::S3Store(std::unique_ptr<aws::AwsHttpClient> client, S3StoreOptions options, bool path_style)
    : client_(std::move(client)), options_(std::move(options)), path_style_(path_style) {}

aws::HttpRequest S3Store::Request(std::string method, std::string_view bucket, std::string_view key,
                                  std::string query) const {
  aws::HttpRequest r;
  r.method = std::move(method);
  r.query = std::move(query);
  const std::string encoded_key = sigv4::UriEncode(key, /*keep_slash=*/true);
  if (bucket.empty()) {
    r.path = "/";
  } else if (path_style_) {
    r.path = "/" + std::string(bucket) + (key.empty() ? "" : "/" + encoded_key);
  } else {
    r.host = std::string(bucket) + "." + client_->endpoint_host();
    r.path = "/" + encoded_key;
  }
  r.context = r.method + " " + std::string(bucket) + (key.empty() ? "" : "/" + std::string(key));
  return r;
}

Status S3Store::NotFoundFor(std::string_view bucket, const Status& status, std::string_view key_code) {
  if (status.code() != StatusCode::kNotFound || !status.message().starts_with("NotFound")) return status;
  auto b = HeadBucket(bucket);
  if (!b.ok() && b.status().code() == StatusCode::kNotFound) return b.status();
  return WithCode(status, StatusCode::kNotFound, key_code);
}

// --- buckets ---

Status S3Store::CreateBucket(std::string_view bucket) {
  THUMBPIPE_RETURN_IF_ERROR(CheckBucketName(bucket));
  // AWS in us-east-1 and Ceph RGW answer 200 when the caller already owns the bucket; the
  // contract says kAlreadyExists, so ask first (bucket creation is rare; a race with another
  // creator still ends in the service's own BucketAlreadyExists/OwnedByYou).
  if (auto head = HeadBucket(bucket); head.ok()) {
    return Status::AlreadyExists("BucketAlreadyOwnedByYou the bucket " + std::string(bucket) + " already exists");
  } else if (head.status().code() != StatusCode::kNotFound) {
    return head.status();
  }
  aws::HttpRequest r = Request("PUT", bucket, "");
  std::string body;
  if (client_->options().region != "us-east-1") {
    body = "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>" +
           client_->options().region + "</LocationConstraint></CreateBucketConfiguration>";
  }
  r.body = body;
  return client_->Send(r).status();
}

Status S3Store::DeleteBucket(std::string_view bucket) {
  THUMBPIPE_RETURN_IF_ERROR(CheckBucketName(bucket));
  return client_->Send(Request("DELETE", bucket, "")).status();
}

Result<BucketInfo> S3Store::HeadBucket(std::string_view bucket) {
  THUMBPIPE_RETURN_IF_ERROR(CheckBucketName(bucket));
  auto reply = client_->Send(Request("HEAD", bucket, ""));
  if (!reply.ok()) {
    if (reply.status().code() == StatusCode::kNotFound) {
      return WithCode(reply.status(), StatusCode::kNotFound, "NoSuchBucket");
    }
    return reply.status();
  }
  return BucketInfo{std::string(bucket), {}};
}

Result<std::vector<BucketInfo>> S3Store::ListBuckets() {
  THUMBPIPE_ASSIGN_OR_RETURN(aws::HttpResponse reply, client_->Send(Request("GET", "", "")));
  THUMBPIPE_ASSIGN_OR_RETURN(pugi::xml_document doc, ParseXml(reply.body, "ListBuckets"));
  std::vector<BucketInfo> out;
  for (pugi::xml_node b : doc.child("ListAllMyBucketsResult").child("Buckets").children("Bucket")) {
    out.push_back({b.child_value("Name"), ParseIsoTime(b.child_value("CreationDate"))});
  }
  std::sort(out.begin(), out.end(), [](const BucketInfo& x, const BucketInfo& y) { return x.name < y.name; });
  return out;
}

// --- objects ---

Result<ObjectInfo> S3Store::Head(std::string_view bucket, std::string_view key) {
  THUMBPIPE_RETURN_IF_ERROR(CheckBucketName(bucket));
  THUMBPIPE_RETURN_IF_ERROR(CheckKey(key));
  auto reply = client_->Send(Request("HEAD", bucket, key));
  if (!reply.ok()) return NotFoundFor(bucket, reply.status(), "NoSuchKey");
  return InfoFromHeaders(bucket, key, reply->headers);
}

Result<std::unique_ptr<ObjectReader>> S3Store::Get(std::string_view bucket, std::string_view key,
                                                   std::optional<ByteRange> range) {
  THUMBPIPE_RETURN_IF_ERROR(CheckBucketName(bucket));
  THUMBPIPE_RETURN_IF_ERROR(CheckKey(key));
  aws::HttpRequest r = Request("GET", bucket, key);
  if (range) {
    // A malformed Range header is ignored by S3 (the whole object comes back), so what S3
    // would not parse is refused here.
    if ((range->suffix_length && *range->suffix_length == 0) || (range->last && *range->last < range->first)) {
      return Status::InvalidArgument("InvalidRange the requested range is not satisfiable");
    }
    std::string value = "bytes=";
    if (range->suffix_length) {
      value += "-" + std::to_string(*range->suffix_length);
    } else {
      value += std::to_string(range->first) + "-" + (range->last ? std::to_string(*range->last) : "");
    }
    r.headers.push_back({"Range", value});
  }
  THUMBPIPE_ASSIGN_OR_RETURN(std::unique_ptr<aws::ResponseStream> stream, client_->Open(r));
  ObjectInfo info = InfoFromHeaders(bucket, key, stream->headers());
  uint64_t first = 0, length = info.size;
  if (stream->status() == 206) {
    const std::string content_range = stream->Header("content-range").value_or("");
    unsigned long long a = 0, b = 0;
    if (std::sscanf(content_range.c_str(), "bytes %llu-%llu/", &a, &b) != 2 || b < a) {
      return Status::Unavailable("InternalError unparsable Content-Range \"" + content_range + "\" (" + r.context + ")");
    }
    first = a;
    length = b - a + 1;
  } else if (!stream->Header("content-length")) {
    length = std::numeric_limits<uint64_t>::max() - first;  // no length announced: read to the end
  }
  return std::unique_ptr<ObjectReader>(new S3Reader(this, std::move(info), std::move(stream), first, length));
}

Status S3Store::Delete(std::string_view bucket, std::string_view key, const WriteContext& /*context*/,
                       bool* existed) {
  THUMBPIPE_RETURN_IF_ERROR(CheckBucketName(bucket));
  THUMBPIPE_RETURN_IF_ERROR(CheckKey(key));
  if (existed != nullptr) {
    // S3 answers 204 whether or not the key was there; only a HEAD can tell.
    auto head = Head(bucket, key);
    if (!head.ok() && !head.status().message().starts_with("NoSuchKey")) return head.status();
    *existed = head.ok();
  }
  return client_->Send(Request("DELETE", bucket, key)).status();
}

Status S3Store::DeleteObjects(std::string_view bucket, std::span<const std::string> keys) {
  THUMBPIPE_RETURN_IF_ERROR(CheckBucketName(bucket));
  for (const std::string& key : keys) THUMBPIPE_RETURN_IF_ERROR(CheckKey(key));
  constexpr size_t kBatch = 1000;  // S3's limit per request
  for (size_t at = 0; at < keys.size(); at += kBatch) {
    pugi::xml_document doc;
    pugi::xml_node del = doc.append_child("Delete");
    del.append_attribute("xmlns") = "http://s3.amazonaws.com/doc/2006-03-01/";
    del.append_child("Quiet").text() = "true";
    for (size_t i = at; i < std::min(keys.size(), at + kBatch); ++i) {
      del.append_child("Object").append_child("Key").text() = keys[i].c_str();
    }
    std::ostringstream xml;
    doc.save(xml, "", pugi::format_raw);
    const std::string body = xml.str();
    Md5 md5;
    md5.Update(body);
    aws::HttpRequest r = Request("POST", bucket, "", "delete=");
    r.headers.push_back({"Content-MD5", sigv4::Base64Encode(md5.Finish())});
    r.headers.push_back({"Content-Type", "application/xml"});
    r.body = body;
    r.error_in_ok_body = true;
    THUMBPIPE_ASSIGN_OR_RETURN(aws::HttpResponse reply, client_->Send(r));
    THUMBPIPE_ASSIGN_OR_RETURN(pugi::xml_document result, ParseXml(reply.body, "DeleteObjects"));
    for (pugi::xml_node e : result.child("DeleteResult").children("Error")) {
      aws::AwsError error{200, e.child_value("Code"), e.child_value("Message"), ""};
      return aws::ErrorToStatus(error, "DeleteObjects " + std::string(bucket) + "/" + e.child_value("Key"));
    }
  }
  return Status::Ok();
}

Result<ListPage> S3Store::List(std::string_view bucket, const ListRequest& request) {
  THUMBPIPE_RETURN_IF_ERROR(CheckBucketName(bucket));
  if (request.max_keys < 0 || request.max_keys > 1000) {
    return Status::InvalidArgument("InvalidArgument max-keys must be 0..1000");
  }
  std::string query = "list-type=2&encoding-type=url";
  AddParam(&query, "max-keys", std::to_string(request.max_keys));
  if (!request.prefix.empty()) AddParam(&query, "prefix", request.prefix);
  if (!request.delimiter.empty()) AddParam(&query, "delimiter", request.delimiter);
  if (!request.start_after.empty()) AddParam(&query, "start-after", request.start_after);
  if (!request.continuation_token.empty()) AddParam(&query, "continuation-token", request.continuation_token);
  THUMBPIPE_ASSIGN_OR_RETURN(aws::HttpResponse reply, client_->Send(Request("GET", bucket, "", query)));
  THUMBPIPE_ASSIGN_OR_RETURN(pugi::xml_document doc, ParseXml(reply.body, "ListObjectsV2"));
  pugi::xml_node root = doc.child("ListBucketResult");
  // Without encoding-type in the reply, the server sent the keys as they are.
  const bool encoded = std::string_view(root.child_value("EncodingType")) == "url";
  auto key_of = [encoded](const char* text) { return encoded ? UrlDecodeKey(text) : std::string(text); };
  ListPage page;
  for (pugi::xml_node c : root.children("Contents")) {
    ObjectInfo info;
    info.bucket = std::string(bucket);
    info.key = key_of(c.child_value("Key"));
    info.size = std::strtoull(c.child_value("Size"), nullptr, 10);
    info.etag = Unquote(c.child_value("ETag"));
    info.last_modified = ParseIsoTime(c.child_value("LastModified"));
    page.objects.push_back(std::move(info));
  }
  for (pugi::xml_node p : root.children("CommonPrefixes")) page.common_prefixes.push_back(key_of(p.child_value("Prefix")));
  page.truncated = std::string_view(root.child_value("IsTruncated")) == "true";
  page.next_continuation_token = root.child_value("NextContinuationToken");
  if (page.truncated && page.next_continuation_token.empty()) {
    return Status::Unavailable("InternalError a truncated listing without a continuation token (" +
                               std::string(bucket) + ")");
  }
  return page;
}

Result<ObjectInfo> S3Store::Copy(std::string_view src_bucket, std::string_view src_key, std::string_view dst_bucket,
                                 std::string_view dst_key, bool replace_metadata, PutOptions options) {
  THUMBPIPE_RETURN_IF_ERROR(CheckBucketName(src_bucket));
  THUMBPIPE_RETURN_IF_ERROR(CheckKey(src_key));
  THUMBPIPE_RETURN_IF_ERROR(CheckBucketName(dst_bucket));
  THUMBPIPE_RETURN_IF_ERROR(CheckKey(dst_key));
  aws::HttpRequest r = Request("PUT", dst_bucket, dst_key);
  r.headers.push_back({"x-amz-copy-source", "/" + std::string(src_bucket) + "/" + sigv4::UriEncode(src_key, true)});
  r.headers.push_back({"x-amz-metadata-directive", replace_metadata ? "REPLACE" : "COPY"});
  if (replace_metadata) AddPutHeaders(options, &r.headers);
  r.error_in_ok_body = true;
  r.context = "CopyObject " + std::string(src_bucket) + "/" + std::string(src_key) + " to " +
              std::string(dst_bucket) + "/" + std::string(dst_key);
  THUMBPIPE_RETURN_IF_ERROR(client_->Send(r).status());
  // The reply has only the ETag and the time; the rest comes from the copy itself.
  return Head(dst_bucket, dst_key);
}

// --- configuration ---

namespace {
Result<std::string> ConfigQuery(std::string_view name) {
  if (name == "notification" || name == "cors") return std::string(name) + "=";
  return Status::Unsupported("bucket configuration \"" + std::string(name) +
                             "\" has no S3 subresource (supported: notification, cors)");
}
}  // namespace

Status S3Store::PutBucketConfig(std::string_view bucket, std::string_view name, std::string_view document) {
  THUMBPIPE_RETURN_IF_ERROR(CheckBucketName(bucket));
  THUMBPIPE_ASSIGN_OR_RETURN(std::string query, ConfigQuery(name));
  aws::HttpRequest r = Request("PUT", bucket, "", query);
  Md5 md5;
  md5.Update(document);
  r.headers.push_back({"Content-MD5", sigv4::Base64Encode(md5.Finish())});  // S3 requires it for ?cors
  r.body = document;
  return client_->Send(r).status();
}

Result<std::string> S3Store::GetBucketConfig(std::string_view bucket, std::string_view name) {
  THUMBPIPE_RETURN_IF_ERROR(CheckBucketName(bucket));
  THUMBPIPE_ASSIGN_OR_RETURN(std::string query, ConfigQuery(name));
  THUMBPIPE_ASSIGN_OR_RETURN(aws::HttpResponse reply, client_->Send(Request("GET", bucket, "", query)));
  return std::move(reply.body);
}

void S3Store::SetCommitHook(CommitHook hook) {
  if (hook && !warned_hook_.exchange(true)) {
    LogWarn("the s3:// store has no commit hook: the S3 service sends its own event notifications "
            "(configure them on the bucket)");
  }
}

}  // namespace internal

// --- opening ---

Status ParseS3Url(std::string_view url, S3StoreOptions* o) {
  constexpr std::string_view kScheme = "s3://";
  if (!url.starts_with(kScheme)) return Status::InvalidArgument("store url \"" + std::string(url) + "\" is not s3://");
  std::string_view rest = url.substr(kScheme.size());
  const size_t q = rest.find('?');
  const std::string_view bucket = rest.substr(0, q);
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("store url \"" + std::string(url) + "\": " + why);
  };
  if (!bucket.empty()) {
    if (Status s = internal::CheckBucketName(bucket); !s.ok()) return bad(s.message());
    o->bucket = std::string(bucket);
  }
  std::string_view params = q == std::string_view::npos ? std::string_view() : rest.substr(q + 1);
  while (!params.empty()) {
    const size_t amp = params.find('&');
    const std::string_view pair = params.substr(0, amp);
    params = amp == std::string_view::npos ? std::string_view() : params.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    const std::string name(pair.substr(0, eq));
    const std::string value = sigv4::PercentDecode(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
    if (name == "endpoint") {
      o->endpoint = value;
    } else if (name == "region") {
      o->region = value;
    } else if (name == "path_style") {
      if (value != "true" && value != "false") return bad("path_style must be true or false");
      o->path_style = value == "true";
    } else if (name == "multipart_threshold" || name == "part_size") {
      auto size = internal::ParseByteSize(value);
      if (!size.ok()) return bad(name + ": " + size.status().message());
      (name == "part_size" ? o->part_size : o->multipart_threshold) = *size;
    } else if (name == "max_attempts") {
      char* end = nullptr;
      const long n = std::strtol(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || n < 1 || n > 20) return bad("max_attempts must be 1..20");
      o->retry.max_attempts = static_cast<int>(n);
    } else {
      return bad("unknown parameter \"" + name +
                 "\" (known: endpoint, region, path_style, multipart_threshold, part_size, max_attempts)");
    }
  }
  return Status::Ok();
}

Result<std::unique_ptr<ObjectStore>> OpenS3Store(S3StoreOptions options) {
  if (options.part_size < 1 || options.part_size > (uint64_t{5} << 30)) {
    return Status::InvalidArgument("s3 store: part_size must be 1 B..5 GiB (S3 wants at least 5 MiB)");
  }
  if (options.multipart_threshold < options.part_size) options.multipart_threshold = options.part_size;
  if (options.region.empty()) options.region = aws::ResolveRegion(options.env).value_or("us-east-1");
  const bool aws_endpoint = options.endpoint.empty();
  if (aws_endpoint) options.endpoint = "https://s3." + options.region + ".amazonaws.com";
  const bool path_style = options.path_style.value_or(!aws_endpoint);
  THUMBPIPE_ASSIGN_OR_RETURN(aws::ResolvedCredentials creds,
                             aws::ResolveCredentials(options.env, options.fallback_credentials));
  aws::ClientOptions c;
  c.endpoint = options.endpoint;
  c.region = options.region;
  c.service = "s3";
  c.credentials = creds.credentials;
  c.retry = options.retry;
  c.clock = options.clock;
  THUMBPIPE_ASSIGN_OR_RETURN(std::unique_ptr<aws::AwsHttpClient> client, aws::AwsHttpClient::Create(c));
  LogDebug("s3 store opened", {{"endpoint", options.endpoint}, {"region", options.region},
                               {"path_style", path_style}, {"credentials", creds.source}});
  return std::unique_ptr<ObjectStore>(new internal::S3Store(std::move(client), std::move(options), path_style));
}

Status DeleteObjects(ObjectStore& store, std::string_view bucket, std::span<const std::string> keys) {
  auto* s3 = dynamic_cast<internal::S3Store*>(&store);
  if (s3 == nullptr) return Status::Unsupported("DeleteObjects needs an s3:// store");
  return s3->DeleteObjects(bucket, keys);
}

}  // namespace thumbpipe::store
