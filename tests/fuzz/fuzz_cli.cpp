// Fuzz target: the command line of the tools (caf-rtm, echo_bot, the
// benchmark), then the client configuration made of it. The input is split
// into argv entries at NUL and '\n' bytes. Parsing must never crash, a usage
// error must say what is wrong, and no message may show a token given on the
// command line (with --token, --app-token, --caf-rtm.token, ...).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "caf/rtm/client_config.hpp"
#include "common/cli.hpp"
#include "fuzz_check.hpp"

using namespace caf::rtm;

namespace {

// Beyond this, more arguments add nothing but time.
constexpr size_t max_args = 32;

std::vector<std::string> split_args(std::string_view input) {
  std::vector<std::string> result;
  size_t pos = 0;
  while (result.size() < max_args) {
    auto end = input.find_first_of(std::string_view{"\0\n", 2}, pos);
    if (end == std::string_view::npos) {
      result.emplace_back(input.substr(pos));
      break;
    }
    result.emplace_back(input.substr(pos, end - pos));
    pos = end + 1;
  }
  return result;
}

// A token value given on the command line: argument `arg`, from `offset`.
struct token_arg {
  size_t arg;
  size_t offset;
  std::string value;
};

// Finds the values of options whose name says "token", the way a user
// writes them: `--name=value` or `--name value`; after `--` too, since CAF
// still reads options there.
std::vector<token_arg> find_tokens(const std::vector<std::string>& args) {
  std::vector<token_arg> result;
  bool raw = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const auto& arg = args[i];
    if (arg == "--" && !raw) {
      raw = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0)
      continue;
    auto eq = arg.find('=');
    auto name = arg.substr(2, eq == std::string::npos ? eq : eq - 2);
    if (name.find("token") == std::string::npos)
      continue;
    if (eq != std::string::npos)
      result.push_back({i, eq + 1, arg.substr(eq + 1)});
    else if (!raw && i + 1 < args.size())
      result.push_back({i + 1, 0, args[i + 1]}), ++i;
  }
  return result;
}

// Another token of the same shape: letters and digits rotated (keeping an
// `xapp-`-style prefix, and escapes intact), everything else unchanged, so
// that parsing takes the same path.
std::string disguise(const std::string& token) {
  std::string result = token;
  for (size_t i = 5; i < result.size(); ++i) {
    if (result[i - 1] == '\\')
      continue;
    auto& c = result[i];
    if (c >= 'a' && c <= 'z')
      c = static_cast<char>('a' + (c - 'a' + 1) % 26);
    else if (c >= 'A' && c <= 'Z')
      c = static_cast<char>('A' + (c - 'A' + 1) % 26);
    else if (c >= '0' && c <= '9')
      c = static_cast<char>('0' + (c - '0' + 1) % 10);
  }
  return result;
}

// Every message the tool could print for this command line: the parse
// error, or the errors of making an RTM and a Socket Mode configuration.
std::vector<std::string> messages(const std::vector<std::string>& args) {
  std::vector<std::string> storage;
  storage.reserve(args.size() + 1);
  storage.emplace_back("caf-rtm");
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& x : storage)
    argv.push_back(x.data());
  argv.push_back(nullptr);
  // A fresh config per command line: parsing stores into it.
  auto cfg = std::make_unique<cli::config>();
  auto res =
      cfg->parse_command_line(static_cast<int>(storage.size()), argv.data());
  if (res.exit != 0) {
    CAF_RTM_FUZZ_CHECK(res.exit == cli::exit_ok || res.exit == cli::exit_usage);
    // Help printed: exit_ok, nothing to say. Otherwise say what is wrong.
    CAF_RTM_FUZZ_CHECK(res.exit == cli::exit_ok || !res.error.empty());
    return {res.error};
  }
  CAF_RTM_FUZZ_CHECK(res.error.empty());
  std::vector<std::string> result;
  for (auto kind : {client_kind::rtm, client_kind::socket_mode}) {
    client_config out;
    auto made = cli::to_client_config(*cfg, out, kind);
    if (made.exit != 0) {
      CAF_RTM_FUZZ_CHECK(made.exit == cli::exit_usage);
      CAF_RTM_FUZZ_CHECK(!made.error.empty());
      result.push_back(made.error);
      continue;
    }
    // What the tool accepts, the client accepts.
    CAF_RTM_FUZZ_CHECK(!out.validate(kind));
    CAF_RTM_FUZZ_CHECK(out.log != nullptr);
  }
  return result;
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // to_client_config falls back to these: runs must not depend on the
  // environment.
  for (auto name :
       {"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "HTTPS_PROXY", "https_proxy",
        "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"})
    unsetenv(name);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto args = split_args({reinterpret_cast<const char*>(data), size});
  auto msgs = messages(args);
  auto tokens = find_tokens(args);
  // A message that quotes a token: is it the token, or text that merely
  // looks like it (an option name, another argument)? With the token
  // disguised, text that merely looks like it stays in the message.
  std::vector<std::string> disguised_args;
  std::vector<std::string> disguised_msgs;
  for (const auto& tok : tokens) {
    // Short values match ordinary words of a message by chance.
    if (tok.value.size() < 4)
      continue;
    for (const auto& msg : msgs) {
      if (msg.find(tok.value) == std::string::npos)
        continue;
      if (disguised_args.empty()) {
        disguised_args = args;
        for (const auto& t : tokens)
          disguised_args[t.arg].replace(t.offset, t.value.size(),
                                        disguise(t.value));
        disguised_msgs = messages(disguised_args);
      }
      bool also_without = false;
      for (const auto& other : disguised_msgs)
        also_without =
            also_without || other.find(tok.value) != std::string::npos;
      CAF_RTM_FUZZ_CHECK_MSG(also_without, msg);
    }
  }
  return 0;
}
