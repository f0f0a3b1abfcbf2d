#include "strata/core/stream_id.h"

#include <fmt/format.h>

namespace strata {
namespace {
constexpr bool is_stream_char(unsigned char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
         c == ':' || c == '-';
}
}  // namespace

bool StreamId::is_valid(std::string_view text) noexcept {
  if (text.empty() || text.size() > kMaxBytes) return false;
  for (unsigned char c : text)
    if (!is_stream_char(c)) return false;
  return true;
}

Result<StreamId> StreamId::parse(std::string_view text) {
  if (text.empty()) return Status::invalid_argument("invalid stream id: empty");
  if (text.size() > kMaxBytes)
    return Status::invalid_argument(fmt::format("invalid stream id \"{}...\": {} bytes, at most {} allowed",
                                                text.substr(0, 32), text.size(), kMaxBytes));
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (!is_stream_char(c)) {
      std::string shown =
          (c >= 0x20 && c < 0x7f) ? fmt::format("'{}'", static_cast<char>(c)) : fmt::format("0x{:02x}", c);
      std::string printable;
      for (unsigned char p : text.substr(0, 64))
        printable += (p >= 0x20 && p < 0x7f && p != '"') ? static_cast<char>(p) : '?';
      return Status::invalid_argument(fmt::format(
          "invalid stream id \"{}\": byte {} at offset {} is not one of [A-Za-z0-9_.:-]", printable, shown, i));
    }
  }
  return StreamId(std::string(text));
}

std::string_view StreamId::category() const noexcept {
  auto dash = value_.find('-');
  return dash == std::string::npos ? std::string_view(value_) : std::string_view(value_).substr(0, dash);
}

}  // namespace strata
