#pragma once

#include <filesystem>
#include <optional>
#include <ostream>

namespace kubeai::cli {

// validate on a SimulationWorkload file (simulate's, docs/simulate.md): a
// user checks it before a run as a policy is checked. nullopt when the file
// holds no workload (then it is the policies' "none found"); else whether it
// is valid, after one line per problem ("<file>: workload <name>: <field>:
// <message>") or "<file>: workload <name>: ok (...)". A file demand (arrivals
// or rate) is read too, as simulate reads it; a Prometheus demand is not
// queried.
std::optional<bool> validateWorkloadFile(const std::filesystem::path& path, std::ostream& out);

}  // namespace kubeai::cli
