// The `strata` command (strata/tools/command.h), verb by verb, on stores made by the tests: what it
// prints, its exit status, reading beside an application that holds the store, and the verbs that
// write refusing to while one does.
#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ledger.h"
#include "strata/core/json.h"
#include "strata/eventstore/rocks_event_store.h"
#include "strata/projections/projector.h"
#include "strata/tools/command.h"

namespace {

using namespace strata;
namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "strata-tools-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string sub(std::string_view name) const { return (fs::path(path_) / name).string(); }

 private:
  std::string path_;
};

struct Ran {
  int code = -1;
  std::string out, err;
};

Ran cli(std::vector<std::string> args, const tools::CommandOptions& options = {}) {
  std::ostringstream out, err;
  Ran r;
  r.code = tools::run(args, out, err, options);
  r.out = out.str();
  r.err = err.str();
  return r;
}

RocksEventStore::Options store_options() {
  RocksEventStore::Options o;
  o.sync = false;
  o.block_cache_bytes = std::size_t{8} << 20;
  return o;
}

std::string without_times(std::string s) {
  return std::regex_replace(s, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)"), "TIME");
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> lines;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A ledger store: 40 events over 3 ledgers, one poison credit at position 41 that the projection
// "test.ledger" parked, and the projection caught up.
void make_store(const std::string& path, ledger::Faults& faults) {
  auto store = RocksEventStore::open(store_options(), path).value();
  ledger::append_history(*store, 40, 3);
  ledger::append(*store, "ledger-1", ledger::Credited{500, true});
  ProjectorOptions options;
  options.errors.max_attempts = 1;
  Projector projector(*store, store->projection_storage(), ledger::Ledger(&faults), options);
  REQUIRE(projector.start().ok());
  REQUIRE(projector.wait_for(store->head_position(), std::chrono::seconds(20)).ok());
  REQUIRE(projector.stop().ok());
  REQUIRE(projector.parked().value().size() == 1);
}

tools::CommandOptions with_ledger(ledger::Faults& faults) {
  tools::CommandOptions options;
  options.projections["test.ledger"] = [&faults] { return make_projection_handler(ledger::Ledger(&faults)); };
  return options;
}

TEST_CASE("the reading verbs show what is in a store") {
  TempDir dir;
  ledger::Faults faults;
  const std::string store = dir.sub("store");
  make_store(store, faults);

  Ran info = cli({"info", store});
  CHECK(info.code == 0);
  CHECK(info.out.find("head position       41") != std::string::npos);
  CHECK(info.out.find("projection_state") != std::string::npos);
  Ran info_json = cli({"info", store, "--json"});
  CHECK(json::validate_object(info_json.out, Limits{}).ok());
  CHECK(info_json.out.find(R"("head":41)") != std::string::npos);

  Ran streams = cli({"streams", store});
  CHECK(streams.code == 0);
  CHECK(streams.out ==
        "stream    version\n"
        "ledger-0       14\n"
        "ledger-1       14\n"
        "ledger-2       13\n");
  Ran page = cli({"streams", store, "--count", "2"});
  CHECK(page.out.find("(more: strata streams " + store + " --after ledger-1)") != std::string::npos);
  CHECK(cli({"streams", store, "--after", "ledger-1", "--json"}).out ==
        R"({"streams":[{"stream":"ledger-2","head":13}],"next_after":""})"
        "\n");

  Ran read = cli({"read", store, "ledger-1", "--count", "2"});
  CHECK(without_times(read.out) ==
        "2  ledger-1@1  TIME  test.ledger.opened.v1  {\"owner\":\"owner1\"}\n"
        "5  ledger-1@2  TIME  test.ledger.debited.v1  {\"amount\":5}\n");
  Ran backward = cli({"read", store, "ledger-1", "--backward", "--count", "1", "--json"});
  CHECK(backward.out.find(R"("position":41,"stream":"ledger-1","version":14)") != std::string::npos);
  CHECK(cli({"read", store, "bad id!"}).code == 1);

  Ran log = cli({"log", store, "--type", "test.ledger.opened.v1"});
  CHECK(lines_of(log.out).size() == 3);
  CHECK(lines_of(cli({"log", store, "--from", "40"}).out).size() == 2);
  CHECK(lines_of(cli({"log", store, "--category", "ledger", "--count", "7"}).out).size() == 7);
  for (const auto& line : lines_of(cli({"log", store, "--json"}).out))
    CHECK(json::validate_object(line, Limits{}).ok());

  Ran show = cli({"show", store, "2"});
  const std::string second = lines_of(cli({"log", store, "--from", "2", "--count", "1", "--json"}).out).at(0);
  const std::string id = second.substr(second.find(R"("id":")") + 6, 36);
  CHECK(without_times(show.out) ==
        "{\n"
        "  \"position\": 2,\n"
        "  \"stream\": \"ledger-1\",\n"
        "  \"version\": 1,\n"
        "  \"id\": \"" +
            id +
            "\",\n"
            "  \"type\": \"test.ledger.opened.v1\",\n"
            "  \"time\": \"TIME\",\n"
            "  \"payload\": {\n"
            "    \"owner\": \"owner1\"\n"
            "  }\n"
            "}\n");
  Ran missing = cli({"show", store, "99"});
  CHECK(missing.code == 1);
  CHECK(missing.err.find("no event at position 99 (its head is 41)") != std::string::npos);

  Ran verify = cli({"verify", store});
  CHECK(verify.code == 0);
  CHECK(verify.out ==
        "41 events (positions 1 to 41), 3 streams, 41 event ids, 0 snapshots, 1 projections with 3 rows and 1 parked "
        "events\n"
        "ok: every invariant of the store format holds, and every table block's checksum\n");
  CHECK(cli({"verify", store, "--json"}).out.find(R"("ok":true,"live":false,"high_water":41)") != std::string::npos);

  Ran projections = cli({"projections", store, "--interval", "0"});
  CHECK(projections.out ==
        "projection   position  lag  lag (s)  events/s  parked  state\n"
        "test.ledger        41    0      0.0         -       1  serving generation 1\n"
        "(head position 41)\n");
  Ran parked = cli({"parked", store, "test.ledger"});
  CHECK(parked.out.find("      41  ledger-1@14  test.ledger.credited.v1         1  ") != std::string::npos);
  CHECK(
      parked.out.find("rejected: handling test.ledger.credited.v1 ledger-1@14 (position 41): poison credit refused") !=
      std::string::npos);
  CHECK(cli({"parked", store, "nobody"}).code == 1);

  CHECK(cli({"streams", dir.sub("missing")}).code == 1);
  CHECK_FALSE(fs::exists(dir.sub("missing")));
}

TEST_CASE("reading verbs work while an application holds the store, and writing verbs say how to write through it") {
  TempDir dir;
  ledger::Faults faults;
  const std::string store = dir.sub("store");
  make_store(store, faults);
  auto app = RocksEventStore::open(store_options(), store).value();
  ledger::append(*app, "ledger-9", ledger::Opened{"late"});

  CHECK(lines_of(cli({"log", store, "--count", "1000"}).out).size() == 42);
  Ran verify = cli({"verify", store});
  CHECK(verify.code == 0);
  CHECK(verify.out.find("read beside the process that has the store open") != std::string::npos);
  Ran projections = cli({"projections", store, "--interval", "0", "--json"});
  CHECK(projections.out.find(R"("lag_events":1)") != std::string::npos);

  Ran compact = cli({"compact", store});
  CHECK(compact.code == 1);
  CHECK(compact.err.find("is open in another process") != std::string::npos);
  CHECK(compact.err.find("RocksEventStore::compact()") != std::string::npos);
  Ran skip = cli({"skip", store, "test.ledger", "41"});
  CHECK(skip.code == 1);
  CHECK(skip.err.find("Projector::skip_parked(41)") != std::string::npos);
  CHECK(cli({"backup", store, dir.sub("backups")}).code == 1);
  CHECK(app->head_position() == 42);
}

TEST_CASE("tail prints events as they are committed") {
  TempDir dir;
  const std::string store = dir.sub("store");
  auto app = RocksEventStore::open(store_options(), store).value();
  ledger::append(*app, "ledger-0", ledger::Opened{"before"});
  std::atomic<bool> done = false;
  std::thread writer([&] {
    for (int i = 0; i < 30; ++i) {
      ledger::append(*app, "ledger-0", ledger::Credited{i, false});
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    done = true;
  });
  Ran tail = cli({"tail", store, "--from", "2", "--stop-after", "30", "--timeout", "30", "--poll", "0.02"});
  writer.join();
  CHECK(tail.code == 0);
  const auto lines = lines_of(tail.out);
  REQUIRE(lines.size() == 30);
  CHECK(lines.front().starts_with("2  ledger-0@2  "));
  CHECK(lines.back().starts_with("31  ledger-0@31  "));
}

TEST_CASE("export then import copies the events, and importing again changes nothing") {
  TempDir dir;
  ledger::Faults faults;
  const std::string store = dir.sub("store"), copy = dir.sub("copy"), file = dir.sub("events.ndjson");
  make_store(store, faults);
  {
    auto s = RocksEventStore::open(store_options(), store).value();
    std::vector<EventData> events{to_event_data(ledger::Noted{"with metadata"})};
    events[0].metadata.correlation_id = "corr-1";
    events[0].metadata.headers = {{"tenant", "acme"}, {"quote", "a \"b\""}};
    REQUIRE(s->append(ledger::sid("ledger-2"), ExpectedVersion::any(), events).ok());
  }
  Ran exported = cli({"export", store, "-o", file});
  CHECK(exported.out == "exported 42 events to " + file + "\n");
  CHECK(cli({"import", copy, file}).code == 1);  // no store there, and no --create
  Ran imported = cli({"import", copy, file, "--create"});
  CHECK(imported.code == 0);
  CHECK(imported.out == "imported 42 events; 0 were already there\n");
  CHECK(without_times(cli({"export", copy}).out) == without_times(cli({"export", store}).out));
  CHECK(cli({"import", copy, file}).out == "imported 0 events; 42 were already there\n");
  CHECK(cli({"export", copy})
            .out.find(R"("metadata":{"correlation_id":"corr-1","headers":{"tenant":"acme","quote":"a \"b\""}})") !=
        std::string::npos);

  // One stream, or a category and a type.
  CHECK(lines_of(cli({"export", store, "--stream", "ledger-0"}).out).size() == 14);
  CHECK(lines_of(cli({"export", store, "--type", "test.ledger.opened.v1"}).out).size() == 3);

  // A bad line stops the import there, naming it; what came before it is in.
  const std::string bad = dir.sub("bad.ndjson");
  {
    std::ofstream out(bad);
    out << lines_of(cli({"export", store, "--stream", "ledger-0"}).out)[0] << "\n{\"stream\":\"x\"}\n";
  }
  Ran refused = cli({"import", dir.sub("third"), bad, "--create"});
  CHECK(refused.code == 1);
  CHECK(refused.err.find("line 2") != std::string::npos);
  CHECK(lines_of(cli({"export", dir.sub("third")}).out).size() == 1);
  // Into a store whose stream holds other events: a version conflict, nothing written.
  auto other = RocksEventStore::open(store_options(), dir.sub("other")).value();
  ledger::append(*other, "ledger-0", ledger::Opened{"someone else"});
  other.reset();
  Ran conflict = cli({"import", dir.sub("other"), file});
  CHECK(conflict.code == 1);
  CHECK(conflict.err.find("wrong expected version") != std::string::npos);
}

TEST_CASE("verify exits 1 naming the damage") {
  TempDir dir;
  ledger::Faults faults;
  const std::string store = dir.sub("store");
  make_store(store, faults);
  REQUIRE(cli({"compact", store}).code == 0);
  fs::path table;
  for (const auto& entry : fs::directory_iterator(store))
    if (entry.path().extension() == ".sst" && (table.empty() || entry.file_size() > fs::file_size(table)))
      table = entry.path();
  REQUIRE(!table.empty());
  {
    std::fstream f(table, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(40);
    f.write("\xde\xad\xbe\xef", 4);
  }
  Ran damaged = cli({"verify", store});
  CHECK(damaged.code == 1);
  CHECK((damaged.out + damaged.err).find("orrupt") != std::string::npos);

  fs::remove(fs::path(store) / "CURRENT");
  Ran no_current = cli({"verify", store, "--json"});
  CHECK(no_current.code == 1);
  CHECK(no_current.out.find(R"("ok":false)") != std::string::npos);
  CHECK(no_current.out.find("CURRENT file") != std::string::npos);
}

TEST_CASE("backup, backups and restore") {
  TempDir dir;
  ledger::Faults faults;
  const std::string store = dir.sub("store"), backups = dir.sub("backups");
  make_store(store, faults);
  Ran backup = cli({"backup", store, backups});
  CHECK(backup.code == 0);
  CHECK(backup.out.starts_with("backup 1 in " + backups + ": the log up to position 41 at least"));
  Ran listed = cli({"backups", backups, "--verify"});
  CHECK(listed.code == 0);
  CHECK(lines_of(listed.out).size() == 2);
  CHECK(lines_of(listed.out)[1].ends_with("ok"));
  Ran restored = cli({"restore", backups, dir.sub("restored")});
  CHECK(restored.code == 0);
  CHECK(restored.out ==
        "restored the newest backup into " + dir.sub("restored") + ": 41 events, 3 streams; verify: ok\n");
  CHECK(cli({"restore", backups, dir.sub("restored")}).code == 1);
  CHECK(cli({"backups", dir.sub("nothing")}).code == 1);
}

TEST_CASE("parked events are skipped, or retried and rebuilt with the application's projection") {
  TempDir dir;
  ledger::Faults faults;
  const std::string store = dir.sub("store");
  make_store(store, faults);

  Ran plain = cli({"retry", store, "test.ledger", "41"});
  CHECK(plain.code == 1);
  CHECK(plain.err.find("does not have projection \"test.ledger\"'s code") != std::string::npos);
  CHECK(cli({"rebuild", store, "test.ledger"}).code == 1);

  faults.poison_fails = true;
  Ran still = cli({"retry", store, "test.ledger", "41"}, with_ledger(faults));
  CHECK(still.code == 1);
  CHECK(still.err.find("poison credit refused") != std::string::npos);
  faults.poison_fails = false;
  Ran retried = cli({"retry", store, "test.ledger", "41"}, with_ledger(faults));
  CHECK(retried.code == 0);
  CHECK(cli({"parked", store, "test.ledger"}).out == "projection \"test.ledger\" has no parked event\n");
  CHECK(cli({"skip", store, "test.ledger", "41"}).code == 1);

  Ran rebuilt = cli({"rebuild", store, "test.ledger"}, with_ledger(faults));
  CHECK(rebuilt.code == 0);
  CHECK(rebuilt.out.find("rebuilt projection \"test.ledger\": generation 2 serves, at position 41") !=
        std::string::npos);

  // A parked event skipped: gone from the list, never applied.
  {
    auto s = RocksEventStore::open(store_options(), store).value();
    ledger::append(*s, "ledger-2", ledger::Credited{7, true});
    faults.poison_fails = true;
    ProjectorOptions options;
    options.errors.max_attempts = 1;
    Projector projector(*s, s->projection_storage(), ledger::Ledger(&faults), options);
    REQUIRE(projector.start().ok());
    REQUIRE(projector.wait_for(s->head_position(), std::chrono::seconds(20)).ok());
    REQUIRE(projector.stop().ok());
  }
  CHECK(cli({"parked", store, "test.ledger", "--json"}).out.find(R"("position":42)") != std::string::npos);
  Ran skipped = cli({"skip", store, "test.ledger", "42"});
  CHECK(skipped.code == 0);
  CHECK(cli({"parked", store, "test.ledger"}).out == "projection \"test.ledger\" has no parked event\n");
}

TEST_CASE("delete, truncate and forget change the store and say so, and streams shows what they did") {
  TempDir dir;
  ledger::Faults faults;
  const std::string store = dir.sub("store");
  make_store(store, faults);

  Ran truncated = cli({"truncate", store, "ledger-0", "--before", "5"});
  CHECK(truncated.code == 0);
  CHECK(truncated.out == "truncated \"ledger-0\": 4 events removed, first version now 5\n");
  Ran conflict = cli({"delete", store, "ledger-1", "--expected", "3"});
  CHECK(conflict.code == 1);
  CHECK(conflict.err.find("wrong expected version for stream \"ledger-1\": expected 3, actual 14") !=
        std::string::npos);
  CHECK(cli({"delete", store, "ledger-1", "--expected", "14"}).out ==
        "deleted \"ledger-1\" at version 14: 0 events removed\n");
  CHECK(cli({"delete", store, "ledger-2", "--hard"}).out ==
        "hard-deleted \"ledger-2\" at version 13: 13 events removed\n");
  CHECK(cli({"delete", store, "no such stream!"}).code == 1);

  Ran streams = cli({"streams", store});
  CHECK(streams.out ==
        "stream              version\n"
        "ledger-0        14 (from 5)\n"
        "ledger-1       14 (deleted)\n"
        "ledger-2  13 (hard deleted)\n");
  CHECK(cli({"streams", store, "--after", "ledger-1", "--json"}).out ==
        R"({"streams":[{"stream":"ledger-2","head":13,"state":"hard deleted","first_version":14}],"next_after":""})"
        "\n");
  Ran read = cli({"read", store, "ledger-1"});
  CHECK(read.code == 1);
  CHECK(read.err.find("stream \"ledger-1\" was deleted at version 14") != std::string::npos);

  CHECK(cli({"forget", store, "c-1"}).out ==
        "\"c-1\" had no key to destroy (never had personal data, or already forgotten)\n");
  CHECK(cli({"verify", store}).code == 0);
  // In use by another process: the verbs that change the store say how to do it there.
  auto open = RocksEventStore::open(store_options(), store).value();
  Ran busy = cli({"forget", store, "c-1"});
  CHECK(busy.code == 1);
  CHECK(busy.err.find("personal_data()->forget()") != std::string::npos);
}

TEST_CASE("help on every verb, and usage errors exit 2") {
  Ran help = cli({"--help"});
  CHECK(help.code == 0);
  for (const char* v : {"info",    "streams", "read",    "log",    "tail",     "show",   "projections", "parked",
                        "retry",   "skip",    "rebuild", "export", "import",   "verify", "backup",      "backups",
                        "restore", "compact", "serve",   "delete", "truncate", "forget"}) {
    CHECK(help.out.find(std::string("  ") + v + " ") != std::string::npos);
    Ran verb_help = cli({v, "--help"});
    CHECK(verb_help.code == 0);
    CHECK(verb_help.out.find(std::string("Usage: strata ") + v) != std::string::npos);
  }
  CHECK(cli({}).code == 2);
  CHECK(cli({"read"}).code == 2);
  CHECK(cli({"info", "x", "--nope"}).code == 2);
  CHECK(cli({"show", "x", "zero"}).code == 2);
}

}  // namespace
