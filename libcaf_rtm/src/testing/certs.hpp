// Throwaway certificates for the fake Slack's TLS mode, generated in memory
// with OpenSSL at start-up (nothing is shipped or read from disk).

#pragma once

#include <string>
#include <vector>

namespace caf::rtm::testing::detail {

struct generated_certs {
  /// The self-signed CA that clients trust.
  std::string ca_pem;
  /// The server's leaf certificate, signed by the CA.
  std::string cert_pem;
  /// The leaf's private key.
  std::string key_pem;
};

/// Creates a CA (EC P-256, CA:TRUE) and a leaf whose subjectAltName lists
/// `names` (IP entries for addresses, DNS entries otherwise), both valid from
/// one hour ago for seven days. Throws `std::runtime_error` on failure.
generated_certs generate_certs(const std::vector<std::string>& names);

} // namespace caf::rtm::testing::detail
