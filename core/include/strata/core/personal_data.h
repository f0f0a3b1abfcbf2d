// Crypto-shredding: fields of events declared personal in their field table are stored encrypted with a
// key of the subject they belong to (a customer, a person), and forgetting the subject destroys its key,
// which makes those fields unreadable everywhere while the events, their versions and positions stay.
//
//   struct Registered {
//     static constexpr std::string_view kType = "shop.registered.v1";
//     std::string customer, email;
//     static constexpr auto kFields = strata::fields(
//         strata::field("customer", &Registered::customer),
//         strata::field("email", &Registered::email).personal(&Registered::customer));   // subject: customer
//   };
//   repo.save(account);                              // "email" is sealed with customer's key on the way in
//   store.personal_data()->forget("c-42");           // every read now shows "email" as "strata.redacted"
//
// A personal field is written as a JSON string token, `"strata.pii.1.<subject>.<nonce and ciphertext>"`
// (base64url, no padding), sealed with libsodium's XChaCha20-Poly1305 (a random 24-byte nonce per field;
// the subject and the field's JSON text are what is sealed, the subject also bound as associated data).
// Stores reveal tokens on every read: the field's JSON value comes back, or the string
// "strata.redacted" once the subject's key was destroyed; a typed decode gives such a field its
// default value. Keys never appear in messages, logs or exports.
//
// Thread safety: PersonalData may be used from any thread; a SubjectKeyStore must allow the same.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "strata/core/status.h"

namespace strata {

// What a personal field reads as after its subject was forgotten.
inline constexpr std::string_view kRedacted = "strata.redacted";
// How every token starts (after its opening quote).
inline constexpr std::string_view kPersonalTokenPrefix = "strata.pii.1.";

// Where subjects' keys live: a backend's own durable storage (a column family, a table). Keys are 32
// random bytes.
class SubjectKeyStore {
 public:
  virtual ~SubjectKeyStore();
  enum class KeyState : std::uint8_t { kNone, kLive, kForgotten };
  // The subject's key, with its state (kNone: never had one; kForgotten: destroyed).
  [[nodiscard]] virtual Result<std::string> load_key(std::string_view subject, KeyState& state) = 0;
  // Stores `key` as the subject's key, durably, unless it has one (then returns that one) or was
  // forgotten (kInvalidArgument).
  [[nodiscard]] virtual Result<std::string> create_key(std::string_view subject, std::string key) = 0;
  // Destroys the subject's key durably (the key's bytes are gone from the store's files as far as the
  // backend can make them go); the subject stays forgotten. True when it had a key.
  [[nodiscard]] virtual Result<bool> destroy_key(std::string_view subject) = 0;
};

// Seals and reveals personal fields with the keys of a SubjectKeyStore, caching keys in memory.
class PersonalData {
 public:
  explicit PersonalData(SubjectKeyStore& keys);
  ~PersonalData();
  PersonalData(const PersonalData&) = delete;
  PersonalData& operator=(const PersonalData&) = delete;

  // Appends the token of `json_value` (one JSON value) sealed for `subject`, quotes included, creating
  // the subject's key if it has none. kInvalidArgument for an empty subject, one longer than 256 bytes,
  // or a forgotten one; the key store's errors.
  [[nodiscard]] Status seal(std::string_view subject, std::string_view json_value, std::string& out);

  // `payload` with every token replaced by its JSON value, or by "strata.redacted" when its subject was
  // forgotten: a view of `payload` itself when it holds no token, otherwise of `scratch`. kCorruption
  // for a token that is damaged or does not open with its subject's key (naming the subject, never
  // the key); the key store's errors.
  [[nodiscard]] Result<std::string_view> reveal(std::string_view payload, std::string& scratch);

  // Destroys the subject's key: its fields read as redacted from now on, in every event. True when it
  // had a key; forgetting again succeeds and returns false.
  [[nodiscard]] Result<bool> forget(std::string_view subject);

  // Whether `payload` holds the tokens' prefix (a quick scan on every read: reveal() is needed only
  // then). The prefix's first '.' is the byte most JSON payloads lack: one memchr settles those, and
  // a payload with a '.' is searched from where a prefix ending at or after it could begin.
  static bool may_hold_tokens(std::string_view payload) noexcept {
    constexpr std::size_t kDot = kPersonalTokenPrefix.find('.');
    static_assert(kDot != std::string_view::npos);
    if (payload.size() < kPersonalTokenPrefix.size()) return false;
    const void* dot = std::memchr(payload.data() + kDot, '.', payload.size() - kDot);
    if (dot == nullptr) return false;
    const std::size_t from = static_cast<std::size_t>(static_cast<const char*>(dot) - payload.data()) - kDot;
    return payload.find(kPersonalTokenPrefix, from) != std::string_view::npos;
  }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// An in-memory SubjectKeyStore: MemoryEventStore's, and for tests.
class MemorySubjectKeyStore final : public SubjectKeyStore {
 public:
  struct Entry {
    KeyState state = KeyState::kNone;
    std::string key;
  };
  MemorySubjectKeyStore();
  ~MemorySubjectKeyStore() override;
  [[nodiscard]] Result<std::string> load_key(std::string_view subject, KeyState& state) override;
  [[nodiscard]] Result<std::string> create_key(std::string_view subject, std::string key) override;
  [[nodiscard]] Result<bool> destroy_key(std::string_view subject) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace strata
