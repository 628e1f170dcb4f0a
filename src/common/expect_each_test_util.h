// For tests only: one table of input → expected output for a function of a string, so a test of a
// parser or mapper is its table, and a failure names the input it failed on.
#pragma once

#include <gtest/gtest.h>

#include <initializer_list>
#include <string_view>
#include <utility>

namespace tollgate {

template <typename Want, typename Fn>
void expectEach(Fn&& fn, std::initializer_list<std::pair<std::string_view, Want>> cases) {
  for (const auto& [input, want] : cases) {
    EXPECT_EQ(fn(input), want) << "for input \"" << input << '"';
  }
}

}  // namespace tollgate
