// ResolveRange (object_store.h): S3's Range rules in one place.
#include <string>

#include "store/object_store.h"

namespace thumbpipe::store {

Result<ResolvedRange> ResolveRange(const ByteRange& range, uint64_t object_size) {
  auto invalid = [&](std::string why) {
    return Status::InvalidArgument("InvalidRange " + why + " (object is " +
                                   std::to_string(object_size) + " bytes)");
  };
  if (range.suffix_length) {
    // RFC 9110 14.1.2: a suffix range of a positive length is satisfiable unless the
    // representation is empty; a longer suffix than the object selects all of it.
    if (*range.suffix_length == 0) return invalid("the suffix length is 0");
    if (object_size == 0) return invalid("the object is empty");
    const uint64_t n = std::min(*range.suffix_length, object_size);
    return ResolvedRange{object_size - n, n};
  }
  if (range.first >= object_size) return invalid("the first byte is past the end");
  uint64_t last = range.last.value_or(object_size - 1);
  if (last < range.first) return invalid("the last byte is before the first");
  last = std::min(last, object_size - 1);
  return ResolvedRange{range.first, last - range.first + 1};
}

}  // namespace thumbpipe::store
