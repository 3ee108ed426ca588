// libFuzzer target on the parsers of the XML request bodies the S3 API accepts: the first
// input byte picks the parser, the rest is the body. 0 DeleteObjects, 1 CompleteMultipartUpload,
// 2 PutBucketNotificationConfiguration (parse, then S3's acceptance rules), 3 PutBucketCors,
// 4 CreateBucketConfiguration. Besides crashes, hangs, leaks and sanitizer reports, a finding
// is: an error that is not InvalidArgument with an S3 error code in front ("MalformedXML: ..."),
// a value outside the limits the parser promises, or a document the server accepted and
// stored that does not read back to the same value (the notification and CORS documents are
// stored as the server serialises them and parsed again on every use).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "events/notification_config.h"
#include "server/s3_xml.h"

namespace {

using thumbpipe::Status;
using thumbpipe::StatusCode;
namespace events = thumbpipe::events;
namespace server = thumbpipe::server;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "xml_fuzzer: %s\n", what);
    std::abort();
  }
}

// Errors go back to the client as an S3 error document: InvalidArgument, "Code: message".
void CheckError(const Status& s) {
  if (s.ok()) return;
  Check(s.code() == StatusCode::kInvalidArgument, "error other than InvalidArgument");
  Check(!events::S3ErrorCode(s).empty(), "error without an S3 code");
}

bool SameCors(const std::vector<server::CorsRule>& a, const std::vector<server::CorsRule>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const server::CorsRule& x = a[i];
    const server::CorsRule& y = b[i];
    if (x.id != y.id || x.allowed_origins != y.allowed_origins || x.allowed_methods != y.allowed_methods ||
        x.allowed_headers != y.allowed_headers || x.expose_headers != y.expose_headers ||
        x.max_age_seconds != y.max_age_seconds) {
      return false;
    }
  }
  return true;
}

void FuzzNotification(std::string_view xml, uint8_t flags) {
  auto parsed = events::ParseNotificationXml(xml);
  CheckError(parsed.status());
  if (!parsed.ok()) return;
  Check(parsed->destinations.size() <= events::kMaxDestinations, "more destinations than the limit");
  auto again = events::ParseNotificationXml(events::ToNotificationXml(*parsed));
  Check(again.ok(), "serialised configuration does not parse");
  Check(*again == *parsed, "serialised configuration reads back different");
  // Half the inputs know every queue, half none; the flag also skips destination checks.
  const bool known = flags & 1;
  const Status st = events::ValidateNotificationConfiguration(
      *parsed, [known](events::DestinationKind kind, std::string_view) {
        return known && kind == events::DestinationKind::kQueue;
      },
      (flags & 2) != 0);
  CheckError(st);
  if (!st.ok()) return;
  for (const events::DestinationConfig& d : parsed->destinations) {
    Check(!d.id.empty() && d.id.size() <= events::kMaxConfigIdBytes, "validated Id empty or too long");
  }
  auto stored = events::ParseNotificationXml(events::ToNotificationXml(*parsed));
  Check(stored.ok() && *stored == *parsed, "validated configuration does not read back");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 5) {
    case 0: {
      auto r = server::ParseDeleteRequest(body);
      CheckError(r.status());
      if (r.ok()) Check(!r->keys.empty() && r->keys.size() <= 1000, "Delete: key count out of 1..1000");
      break;
    }
    case 1: {
      auto r = server::ParseCompleteRequest(body);
      CheckError(r.status());
      if (r.ok()) Check(!r->empty(), "Complete: no part");
      break;
    }
    case 2:
      FuzzNotification(body, data[0] / 5);
      break;
    case 3: {
      auto r = server::ParseCorsConfiguration(body);
      CheckError(r.status());
      if (!r.ok()) break;
      Check(!r->empty() && r->size() <= 100, "CORS: rule count out of 1..100");
      auto stored = server::ParseCorsConfiguration(server::CorsConfigurationXml(*r));
      Check(stored.ok(), "CORS: stored configuration does not parse");
      Check(SameCors(*stored, *r), "CORS: stored configuration reads back different");
      break;
    }
    default: {
      auto r = server::ParseLocationConstraint(body);
      CheckError(r.status());
    }
  }
  return 0;
}
