#include "strata/core/personal_data.h"

#include <fmt/format.h>
#include <sodium.h>

#include <array>
#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

namespace strata {

namespace {

constexpr std::size_t kKeyBytes = crypto_aead_xchacha20poly1305_ietf_KEYBYTES;
constexpr std::size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t kTagBytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;
constexpr std::size_t kMaxSubjectBytes = 256;

// base64url without padding (RFC 4648 section 5). Table-driven: libsodium's own codec is constant-time,
// which tokens do not need (they are public), and it cost more than the decryption itself on replay.
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

struct DecodeTable {
  signed char v[256];
  constexpr DecodeTable() : v{} {
    for (int i = 0; i < 256; ++i) v[i] = -1;
    for (int i = 0; i < 64; ++i) v[static_cast<unsigned char>(kAlphabet[i])] = static_cast<signed char>(i);
  }
};
constexpr DecodeTable kDecode;

void append_base64(std::string& out, const unsigned char* bytes, std::size_t n) {
  std::size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const std::uint32_t w = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    const char quad[4] = {kAlphabet[w >> 18], kAlphabet[(w >> 12) & 63], kAlphabet[(w >> 6) & 63], kAlphabet[w & 63]};
    out.append(quad, 4);
  }
  if (n - i == 1) {
    const std::uint32_t w = std::uint32_t{bytes[i]} << 16;
    out += kAlphabet[w >> 18];
    out += kAlphabet[(w >> 12) & 63];
  } else if (n - i == 2) {
    const std::uint32_t w = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8);
    out += kAlphabet[w >> 18];
    out += kAlphabet[(w >> 12) & 63];
    out += kAlphabet[(w >> 6) & 63];
  }
}

bool decode_base64(std::string_view text, std::string& out) {
  if (text.size() % 4 == 1) return false;
  out.resize(text.size() / 4 * 3 + (text.size() % 4 == 0 ? 0 : text.size() % 4 - 1));
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  const auto* t = reinterpret_cast<const unsigned char*>(text.data());
  std::size_t i = 0, j = 0;
  for (; i + 4 <= text.size(); i += 4) {
    const int a = kDecode.v[t[i]], b = kDecode.v[t[i + 1]], c = kDecode.v[t[i + 2]], d = kDecode.v[t[i + 3]];
    if ((a | b | c | d) < 0) return false;
    const std::uint32_t w = (std::uint32_t(a) << 18) | (std::uint32_t(b) << 12) | (std::uint32_t(c) << 6) | d;
    o[j++] = static_cast<unsigned char>(w >> 16);
    o[j++] = static_cast<unsigned char>(w >> 8);
    o[j++] = static_cast<unsigned char>(w);
  }
  const std::size_t rest = text.size() - i;
  if (rest >= 2) {
    const int a = kDecode.v[t[i]], b = kDecode.v[t[i + 1]];
    const int c = rest == 3 ? kDecode.v[t[i + 2]] : 0;
    if ((a | b | c) < 0) return false;
    const std::uint32_t w = (std::uint32_t(a) << 18) | (std::uint32_t(b) << 12) | (std::uint32_t(c) << 6);
    o[j++] = static_cast<unsigned char>(w >> 16);
    if (rest == 3) o[j++] = static_cast<unsigned char>(w >> 8);
  }
  return true;
}

// A fresh random nonce: taken from a per-thread buffer of random bytes refilled by libsodium, so that a
// seal does not cost a getrandom() system call.
void random_nonce(unsigned char* nonce, std::size_t n) {
  thread_local unsigned char pool[4096];
  thread_local std::size_t left = 0;
  if (left < n) {
    randombytes_buf(pool, sizeof pool);
    left = sizeof pool;
  }
  std::memcpy(nonce, pool + (sizeof pool - left), n);
  sodium_memzero(pool + (sizeof pool - left), n);
  left -= n;
}

Status check_subject(std::string_view subject) {
  if (subject.empty()) return Status::invalid_argument("a personal field's subject is empty");
  if (subject.size() > kMaxSubjectBytes)
    return Status::invalid_argument(
        fmt::format("a personal field's subject has {} bytes, more than {}", subject.size(), kMaxSubjectBytes));
  return {};
}

}  // namespace

SubjectKeyStore::~SubjectKeyStore() = default;

struct PersonalData::Impl {
  explicit Impl(SubjectKeyStore& k) : keys(k) {}
  ~Impl() { clear(); }

  struct Entry {
    SubjectKeyStore::KeyState state = SubjectKeyStore::KeyState::kNone;
    std::array<unsigned char, kKeyBytes> key{};  // kLive only
  };
  // An entry for `state` and the key bytes `key` (kCorruption when a live key has the wrong length).
  static Result<Entry> make_entry(std::string_view subject, SubjectKeyStore::KeyState state, std::string& key) {
    Entry e;
    e.state = state;
    if (state == SubjectKeyStore::KeyState::kLive) {
      if (key.size() != kKeyBytes)
        return Status::corruption(fmt::format("the key of subject \"{}\" has the wrong length", subject));
      std::memcpy(e.key.data(), key.data(), kKeyBytes);
    }
    sodium_memzero(key.data(), key.size());
    return e;
  }

  void clear() {
    for (auto& [subject, e] : cache) sodium_memzero(e.key.data(), e.key.size());
    cache.clear();
  }

  // The subject's key and state, from the cache or the key store. REQUIRES: mu not held.
  Result<Entry> entry(std::string_view subject) {
    {
      std::shared_lock lock(mu);
      if (auto it = cache.find(std::string(subject)); it != cache.end()) return it->second;
    }
    SubjectKeyStore::KeyState state = SubjectKeyStore::KeyState::kNone;
    STRATA_ASSIGN_OR_RETURN(std::string key, keys.load_key(subject, state));
    STRATA_ASSIGN_OR_RETURN(Entry e, make_entry(subject, state, key));
    if (e.state != SubjectKeyStore::KeyState::kNone) remember(subject, e);
    return e;
  }

  void remember(std::string_view subject, const Entry& e) {
    std::unique_lock lock(mu);
    if (cache.size() >= kMaxCached) clear();
    cache[std::string(subject)] = e;
  }

  static constexpr std::size_t kMaxCached = 100'000;
  SubjectKeyStore& keys;
  std::shared_mutex mu;
  std::unordered_map<std::string, Entry> cache;  // GUARDED_BY(mu)
};

PersonalData::PersonalData(SubjectKeyStore& keys) : impl_(std::make_unique<Impl>(keys)) {
  if (sodium_init() < 0) throw std::runtime_error("libsodium could not be initialised");
}
PersonalData::~PersonalData() = default;

Status PersonalData::seal(std::string_view subject, std::string_view json_value, std::string& out) {
  STRATA_RETURN_IF_ERROR(check_subject(subject));
  STRATA_ASSIGN_OR_RETURN(Impl::Entry e, impl_->entry(subject));
  if (e.state == SubjectKeyStore::KeyState::kForgotten)
    return Status::invalid_argument(
        fmt::format("subject \"{}\" was forgotten: personal data of it cannot be stored again", subject));
  if (e.state == SubjectKeyStore::KeyState::kNone) {
    std::string key(kKeyBytes, '\0');
    crypto_aead_xchacha20poly1305_ietf_keygen(reinterpret_cast<unsigned char*>(key.data()));
    auto created = impl_->keys.create_key(subject, std::move(key));
    if (!created.ok()) return created.status();
    STRATA_ASSIGN_OR_RETURN(e, Impl::make_entry(subject, SubjectKeyStore::KeyState::kLive, *created));
    impl_->remember(subject, e);
  }
  unsigned char nonce[kNonceBytes];
  random_nonce(nonce, sizeof nonce);
  std::string sealed(kNonceBytes + json_value.size() + kTagBytes, '\0');
  auto* s = reinterpret_cast<unsigned char*>(sealed.data());
  std::memcpy(s, nonce, kNonceBytes);
  unsigned long long n = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      s + kNonceBytes, &n, reinterpret_cast<const unsigned char*>(json_value.data()), json_value.size(),
      reinterpret_cast<const unsigned char*>(subject.data()), subject.size(), nullptr, nonce, e.key.data());
  sodium_memzero(e.key.data(), e.key.size());
  out += '"';
  out += kPersonalTokenPrefix;
  append_base64(out, reinterpret_cast<const unsigned char*>(subject.data()), subject.size());
  out += '.';
  append_base64(out, s, kNonceBytes + n);
  out += '"';
  return {};
}

Result<std::string_view> PersonalData::reveal(std::string_view payload, std::string& scratch) {
  std::size_t at = payload.find(kPersonalTokenPrefix);
  if (at == std::string_view::npos) return payload;
  scratch.clear();
  std::size_t copied = 0;
  std::string subject, blob, plain;
  while (at != std::string_view::npos) {
    // A token is a whole JSON string: the prefix follows its opening quote.
    if (at == 0 || payload[at - 1] != '"') {
      at = payload.find(kPersonalTokenPrefix, at + 1);
      continue;
    }
    const std::size_t end = payload.find('"', at);
    const std::string_view token = payload.substr(at, end == std::string_view::npos ? 0 : end - at);
    const std::string_view body = token.substr(std::min(token.size(), kPersonalTokenPrefix.size()));
    const std::size_t dot = body.find('.');
    if (end == std::string_view::npos || dot == std::string_view::npos ||
        !decode_base64(body.substr(0, dot), subject) || !decode_base64(body.substr(dot + 1), blob) ||
        blob.size() < kNonceBytes + kTagBytes)
      return Status::corruption("a personal field's token is damaged");
    STRATA_ASSIGN_OR_RETURN(Impl::Entry e, impl_->entry(subject));
    scratch.append(payload.substr(copied, at - 1 - copied));
    if (e.state == SubjectKeyStore::KeyState::kForgotten) {
      scratch += '"';
      scratch += kRedacted;
      scratch += '"';
    } else {
      if (e.state == SubjectKeyStore::KeyState::kNone)
        return Status::corruption(
            fmt::format("a personal field of subject \"{}\" was sealed with a key the store does not have", subject));
      plain.resize(blob.size() - kNonceBytes - kTagBytes);
      const auto* b = reinterpret_cast<const unsigned char*>(blob.data());
      unsigned long long n = 0;
      const int opened = crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(plain.data()), &n, nullptr, b + kNonceBytes, blob.size() - kNonceBytes,
          reinterpret_cast<const unsigned char*>(subject.data()), subject.size(), b, e.key.data());
      sodium_memzero(e.key.data(), e.key.size());
      if (opened != 0)
        return Status::corruption(fmt::format(
            "a personal field of subject \"{}\" does not open with the subject's key (damaged, or sealed with "
            "another key)",
            subject));
      scratch.append(plain.data(), n);
      sodium_memzero(plain.data(), plain.size());
    }
    copied = end + 1;
    at = payload.find(kPersonalTokenPrefix, copied);
  }
  scratch.append(payload.substr(copied));
  return std::string_view(scratch);
}

Result<bool> PersonalData::forget(std::string_view subject) {
  STRATA_RETURN_IF_ERROR(check_subject(subject));
  STRATA_ASSIGN_OR_RETURN(bool had, impl_->keys.destroy_key(subject));
  Impl::Entry forgotten;
  forgotten.state = SubjectKeyStore::KeyState::kForgotten;
  impl_->remember(subject, forgotten);
  return had;
}

struct MemorySubjectKeyStore::Impl {
  std::mutex mu;
  std::unordered_map<std::string, Entry> keys;  // GUARDED_BY(mu)
};

MemorySubjectKeyStore::MemorySubjectKeyStore() : impl_(std::make_unique<Impl>()) {}
MemorySubjectKeyStore::~MemorySubjectKeyStore() {
  for (auto& [subject, e] : impl_->keys) sodium_memzero(e.key.data(), e.key.size());
}

Result<std::string> MemorySubjectKeyStore::load_key(std::string_view subject, KeyState& state) {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->keys.find(std::string(subject));
  state = it == impl_->keys.end() ? KeyState::kNone : it->second.state;
  return it == impl_->keys.end() ? std::string() : it->second.key;
}

Result<std::string> MemorySubjectKeyStore::create_key(std::string_view subject, std::string key) {
  std::lock_guard lock(impl_->mu);
  auto [it, inserted] = impl_->keys.try_emplace(std::string(subject), Entry{KeyState::kLive, std::move(key)});
  if (!inserted && it->second.state == KeyState::kForgotten)
    return Status::invalid_argument(
        fmt::format("subject \"{}\" was forgotten: personal data of it cannot be stored again", subject));
  return it->second.key;
}

Result<bool> MemorySubjectKeyStore::destroy_key(std::string_view subject) {
  std::lock_guard lock(impl_->mu);
  Entry& e = impl_->keys[std::string(subject)];
  const bool had = e.state == KeyState::kLive;
  sodium_memzero(e.key.data(), e.key.size());
  e = Entry{KeyState::kForgotten, {}};
  return had;
}

}  // namespace strata
