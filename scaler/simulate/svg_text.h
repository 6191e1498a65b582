#pragma once

// Numbers and text as the simulate report writes them into SVG and HTML
// (svg_chart.h, html_report.cc): deterministic, locale-free.

#include <string>
#include <string_view>

namespace kubeai::simulate::svg {

// `value` with `decimals` digits after the point, locale-free; "n/a" when not
// finite. Never "-0".
std::string formatFixed(double value, int decimals);

// Text for HTML and SVG (element content and attribute values).
std::string escapeText(std::string_view text);

}  // namespace kubeai::simulate::svg
