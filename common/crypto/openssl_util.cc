#include "common/crypto/openssl_util.h"

#include <openssl/err.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace cohort::crypto::internal {

absl::Status OpenSslError(absl::StatusCode code, std::string_view what) {
  std::string detail;
  unsigned long err = 0;
  while ((err = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(err, buf, sizeof(buf));
    absl::StrAppend(&detail, detail.empty() ? "" : "; ", buf);
  }
  if (detail.empty()) return absl::Status(code, std::string(what));
  return absl::Status(code, absl::StrCat(std::string(what), " (", detail, ")"));
}

void ClearOpenSslErrors() { ERR_clear_error(); }

}  // namespace cohort::crypto::internal
