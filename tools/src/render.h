// How the `strata` command prints: events as JSON lines or one-line summaries, JSON made readable,
// times, sizes and aligned tables.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "strata/core/event.h"
#include "strata/core/position.h"

namespace strata::tools {

// An event as one JSON object: position, stream, version, id, type, time, metadata (only its non-empty
// parts), payload. The line format of `export` and of --json.
std::string event_json(const RecordedEvent& e);

// "<position>  <stream>@<version>  <time>  <type>  <payload>", the payload cut to `width` bytes (0: whole).
std::string event_line(const RecordedEvent& e, std::size_t width);

// Compact JSON indented by two spaces per level (strings are copied as they are).
std::string pretty_json(std::string_view compact);

// "2026-11-28T13:42:11.123456Z".
std::string format_time(Timestamp t);

// "0 B", "1.5 KiB", "12.0 MiB", ...
std::string format_bytes(std::uint64_t bytes);

// A JSON string literal, escaped.
std::string json_string(std::string_view s);

// Prints `rows` with columns padded to their widest cell; the first row is the header. Columns whose
// index is in `right` are right-aligned.
void print_table(std::ostream& out, const std::vector<std::vector<std::string>>& rows,
                 const std::vector<std::size_t>& right = {});

}  // namespace strata::tools
