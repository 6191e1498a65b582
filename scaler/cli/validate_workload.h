#pragma once

#include <filesystem>
#include <optional>
#include <ostream>

#include "policy/policy_parser.h"

namespace kubeai::cli {

// validate on a SimulationWorkload file (simulate's, docs/simulate.md): a
// user checks it before a run as a policy is checked. `parsed` is the file as
// the policies' parser read it: a document of that kind is among its
// skipped ones. nullopt when the file holds no policy and no workload (then
// it is the policies' "none found"); else whether it is valid, after one line
// per problem ("<file>: workload <name>: <field>: <message>") or "<file>:
// workload <name>: ok (...)". Its demand file (arrivals or rate) is read and
// checked as runSimulation() checks it; a Prometheus demand is not queried.
// A workload beside policies in one file is said unchecked (simulate refuses
// such a file): a warning, nullopt.
std::optional<bool> validateWorkloadFile(const std::filesystem::path& path, const policy::PolicyFile& parsed,
                                         std::ostream& out);

}  // namespace kubeai::cli
