// Metadata's compact persisted encoding, shared by every backend: how EventView::encoded_metadata is
// laid out. The grammar is written where it is encoded (core/src/event.cc); never change it
// incompatibly. For backend implementers; users read metadata through EventView::metadata().
//
//   std::string bytes;
//   strata::encode_metadata(event.metadata, bytes);
//   strata::Metadata back;
//   STRATA_RETURN_IF_ERROR(strata::decode_metadata(bytes, back));
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "strata/core/event.h"
#include "strata/core/status.h"

namespace strata {

// Appends the encoding of `metadata` to `out`. Empty metadata encodes to zero bytes.
void encode_metadata(const Metadata& metadata, std::string& out);
// Decodes `bytes` into `out` (cleared first); kCorruption if the bytes are not a valid encoding.
Status decode_metadata(std::string_view bytes, Metadata& out);
// The encoded size of `metadata`, without encoding it.
std::size_t encoded_metadata_size(const Metadata& metadata) noexcept;

}  // namespace strata
