// The subject keys of PgEventStore's personal data (core personal_data.h), in the subject_keys table.
// Several processes may seal for the same new subject at once: each inserts its key if none is there,
// then all use the one that is. Destroying sets the key to NULL and the row forgotten (inserting a
// forgotten row for a subject that never had a key); what PostgreSQL may still hold afterwards is in
// pgstore/FORMAT.md, "Personal data".
#include <fmt/format.h>

#include <memory>
#include <string>

#include "pg_store_impl.h"

namespace strata::pg {

namespace {

class PgSubjectKeyStore final : public SubjectKeyStore {
 public:
  PgSubjectKeyStore(PgPool& pool, const Statements& sql) : pool_(pool), sql_(sql) {}

  Result<std::string> load_key(std::string_view subject, KeyState& state) override {
    STRATA_ASSIGN_OR_RETURN(PgPool::Lease c, pool_.acquire());
    return read(*c, subject, state);
  }

  Result<std::string> create_key(std::string_view subject, std::string key) override {
    std::string hex;
    append_bytea_hex(hex, key);
    STRATA_ASSIGN_OR_RETURN(PgPool::Lease c, pool_.acquire());
    auto inserted = c->exec(sql_.create_key, {Param(subject), Param(hex)});
    if (!inserted.ok()) return inserted.status().with_context(context(subject));
    KeyState state = KeyState::kNone;
    STRATA_ASSIGN_OR_RETURN(std::string stored, read(*c, subject, state));
    if (state == KeyState::kForgotten)
      return Status::invalid_argument(
          fmt::format("subject \"{}\" was forgotten: personal data of it cannot be stored again", subject));
    if (state != KeyState::kLive)
      return Status::internal(fmt::format("{}: not there after its insert", context(subject)));
    return stored;
  }

  Result<bool> destroy_key(std::string_view subject) override {
    STRATA_ASSIGN_OR_RETURN(PgPool::Lease c, pool_.acquire());
    // One implicit transaction, in one round trip: a forgotten row unless the subject has one, then its
    // row locked and read as it stands (the key a concurrent create_key just committed included), then
    // the key gone. Lost with the connection, the outcome is unknown; destroying again settles it.
    auto r = c->pipeline({{sql_.forgotten_row, {Param(subject)}},
                          {sql_.lock_key, {Param(subject)}},
                          {sql_.destroy_key, {Param(subject)}}});
    if (!r.ok()) return r.status().with_context(context(subject));
    if (r->size() != 3 || (*r)[1].rows() != 1)
      return Status::internal(fmt::format("{}: no answer from its destruction", context(subject)));
    return (*r)[1].text(0, 0) == "t";
  }

 private:
  static std::string context(std::string_view subject) {
    return fmt::format("postgresql: the key of subject \"{}\"", subject);
  }

  Result<std::string> read(PgConnection& c, std::string_view subject, KeyState& state) {
    state = KeyState::kNone;
    auto r = c.exec(sql_.load_key, {Param(subject)});
    if (!r.ok()) return r.status().with_context(context(subject));
    if (r->rows() == 0) return std::string();
    if (r->text(0, 1) == "t") {
      state = KeyState::kForgotten;
      return std::string();
    }
    auto key = decode_bytea_hex(r->text(0, 0));
    if (!key.ok()) return key.status().with_context(context(subject));
    state = KeyState::kLive;
    return std::move(*key);
  }

  PgPool& pool_;
  const Statements& sql_;
};

}  // namespace

std::unique_ptr<SubjectKeyStore> make_subject_key_store(PgPool& pool, const Statements& sql) {
  return std::make_unique<PgSubjectKeyStore>(pool, sql);
}

}  // namespace strata::pg
