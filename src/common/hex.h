// Hex spelling of bytes, as digests appear on the wire and in ETags: lower-case out, either
// case in. One copy for every room (sigv4's signatures, the store's ETags, test helpers).
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace thumbpipe {

// Two lower-case hex digits per byte.
std::string HexEncode(std::string_view bytes);
// The raw bytes of lower- or upper-case hex; kInvalidArgument when `hex` is not hex or has an
// odd number of digits.
Result<std::string> HexDecode(std::string_view hex);

}  // namespace thumbpipe
