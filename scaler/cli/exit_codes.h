#pragma once

namespace kubeai::cli {

// The command line's exit codes; scripts and tests rely on them.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // runtime failure: a plugin failed to load, an algorithm failed
inline constexpr int kExitUsage = 2;    // bad arguments or an invalid policy

}  // namespace kubeai::cli
