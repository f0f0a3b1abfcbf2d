// streaming audit DIR [--deals N [--seed S]]: the auditor's table from the stores of a run that stopped.
#include <fmt/format.h>

#include "streaming/chaos.h"
#include "streaming/showcase.h"
#include "streaming/stores.h"

namespace streaming {

int run_audit(const std::filesystem::path& dir, const std::optional<ChaosOptions>& plan_options) {
  const std::optional<ChaosPlan> plan = plan_options ? std::optional(chaos_plan(*plan_options)) : std::nullopt;
  strata::Result<Stores> stores = Stores::open(dir, StoreMode::kOpen, /*durable=*/false);
  strata::Result<Audit> audit = stores.ok() ? audit_stores(*stores, plan ? &*plan : nullptr) : stores.status();
  if (!audit.ok()) {
    fmt::print(stderr, "streaming audit: {}\n", audit.status().to_string());
    return 2;
  }
  fmt::print("{}", render_audit(*audit));
  const std::size_t violations = audit->violations();
  fmt::print("\n{}\n", violations == 0 ? std::string("the auditor found no violation.")
                                       : fmt::format("the auditor found {} violation(s).", violations));
  return violations == 0 ? 0 : 1;
}

}  // namespace streaming
