// README.md shows the compiled examples as they are: each example file,
// without its leading comment, is one ```cpp block of the README.

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in{path};
  REQUIRE(in);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The file without its leading comment lines and the blank line after them.
std::string body_of(const std::string& text) {
  size_t pos = 0;
  while (text.compare(pos, 2, "//") == 0)
    pos = text.find('\n', pos) + 1;
  if (text.compare(pos, 1, "\n") == 0)
    ++pos;
  return text.substr(pos);
}

} // namespace

TEST_CASE("README.md shows the examples as they are compiled", "[readme]") {
  auto readme = read_file(CAF_RTM_README);
  for (auto name : {"readme_example.cpp", "readme_socket_mode_example.cpp"}) {
    INFO(name);
    auto body =
        body_of(read_file(std::string{CAF_RTM_EXAMPLES_DIR} + "/" + name));
    CHECK(readme.find("```cpp\n" + body + "```") != std::string::npos);
  }
}
