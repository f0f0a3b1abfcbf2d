// Verbs that end or shorten streams and forget subjects: delete, truncate, forget. Each changes the
// store, so it needs the store to itself; in a running application, the same calls on its EventStore.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "strata/core/personal_data.h"
#include "verbs.h"

namespace strata::tools {

namespace {

ExpectedVersion expected_of(const std::optional<std::uint64_t>& v) {
  return v.has_value() ? ExpectedVersion::exact(*v) : ExpectedVersion::any();
}

struct DeleteArgs {
  std::string store, stream;
  bool hard = false;
  std::optional<std::uint64_t> expected;
};

int delete_verb(const Context& c, const DeleteArgs& a) {
  auto id = StreamId::parse(a.stream);
  if (!id.ok()) return fail(c, id.status());
  auto store = open_for_writing(c, a.store, "delete", "call EventStore::delete_stream() in it");
  if (!store.ok()) return fail(c, store.status());
  auto r = (*store)->delete_stream(*id, expected_of(a.expected), a.hard ? DeleteMode::kHard : DeleteMode::kSoft);
  if (!r.ok()) return fail(c, r.status());
  c.out << fmt::format("{} \"{}\" at version {}: {} events removed\n", a.hard ? "hard-deleted" : "deleted", a.stream,
                       r->head.value(), r->removed);
  return 0;
}

struct TruncateArgs {
  std::string store, stream;
  std::uint64_t before = 0;
  std::optional<std::uint64_t> expected;
};

int truncate_verb(const Context& c, const TruncateArgs& a) {
  auto id = StreamId::parse(a.stream);
  if (!id.ok()) return fail(c, id.status());
  auto store = open_for_writing(c, a.store, "truncate", "call EventStore::truncate_stream() in it");
  if (!store.ok()) return fail(c, store.status());
  auto r = (*store)->truncate_stream(*id, expected_of(a.expected), a.before);
  if (!r.ok()) return fail(c, r.status());
  auto info = (*store)->stream_info(*id);
  c.out << fmt::format("truncated \"{}\": {} events removed, first version now {}\n", a.stream, r->removed,
                       info.ok() ? info->first_version.value() : a.before);
  return 0;
}

struct ForgetArgs {
  std::string store, subject;
};

int forget_verb(const Context& c, const ForgetArgs& a) {
  auto store = open_for_writing(c, a.store, "forget", "call EventStore::personal_data()->forget() in it");
  if (!store.ok()) return fail(c, store.status());
  auto r = (*store)->personal_data()->forget(a.subject);
  if (!r.ok()) return fail(c, r.status());
  if (*r) {
    c.out << fmt::format("forgot \"{}\": its key is destroyed, its personal fields read as redacted\n", a.subject);
  } else {
    c.out << fmt::format("\"{}\" had no key to destroy (never had personal data, or already forgotten)\n", a.subject);
  }
  return 0;
}

}  // namespace

void add_lifecycle_verbs(CLI::App& app, Context& c, Action& action) {
  {
    auto [a, s] = verb<DeleteArgs>(app, action, "delete",
                                   "Delete a stream: soft (it reads as deleted, its events stay in the log) or "
                                   "--hard (its events are removed; their positions stay as tombstones)",
                                   [&c](const DeleteArgs& x) { return delete_verb(c, x); });
    s->add_option("STORE", a->store, "The store's directory")->required();
    s->add_option("STREAM", a->stream, "The stream id")->required();
    s->add_flag("--hard", a->hard, "Remove the events for good; the stream can never be appended to again");
    s->add_option("--expected", a->expected, "Only if the stream's head is this version");
  }
  {
    auto [a, s] = verb<TruncateArgs>(app, action, "truncate", "Remove a stream's events below a version",
                                     [&c](const TruncateArgs& x) { return truncate_verb(c, x); });
    s->add_option("STORE", a->store, "The store's directory")->required();
    s->add_option("STREAM", a->stream, "The stream id")->required();
    s->add_option("--before", a->before, "Remove the versions below this one")->required()->check(CLI::PositiveNumber);
    s->add_option("--expected", a->expected, "Only if the stream's head is this version");
  }
  {
    auto [a, s] = verb<ForgetArgs>(app, action, "forget",
                                   "Destroy a subject's key: its personal fields read as redacted in every event",
                                   [&c](const ForgetArgs& x) { return forget_verb(c, x); });
    s->add_option("STORE", a->store, "The store's directory")->required();
    s->add_option("SUBJECT", a->subject, "The subject (for example a customer id)")->required();
  }
}

}  // namespace strata::tools
