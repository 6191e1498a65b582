#pragma once

#include <filesystem>

#include "core/result.h"
#include "simulate/demand.h"
#include "simulate/trace_parser.h"

namespace kubeai::simulate::detail {

// Reads the file at `path` (regular, at most kMaxTraceFileBytes, its size
// checked before reading) in chunks, feeding `parser` its lines: memory is the
// steps, not the file. Errors name the file.
core::Result<DemandSeries> loadFile(const std::filesystem::path& path, TraceParser& parser);

}  // namespace kubeai::simulate::detail
