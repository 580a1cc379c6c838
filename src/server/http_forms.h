// Small helpers for HTML forms and cookies on the pages inkan serves.
#ifndef INKAN_SERVER_HTTP_FORMS_H_
#define INKAN_SERVER_HTTP_FORMS_H_

#include <map>
#include <string>

#include "absl/strings/string_view.h"
#include "api/https_server.h"

namespace inkan::server {

// application/x-www-form-urlencoded: '+' is a space, %XX a byte.
std::string PercentDecode(absl::string_view in);
// A form body into name -> value (the last of a repeated name wins).
std::map<std::string, std::string> ParseForm(absl::string_view body);
// A header's value ("" if absent); `name` in lower case.
std::string HeaderValue(const api::HttpRequest& req, absl::string_view name);
// The value of cookie `name` in the Cookie header, or "".
std::string CookieValue(const api::HttpRequest& req, absl::string_view name);
// The bearer token of the Authorization header, or "".
std::string BearerToken(const api::HttpRequest& req);

}  // namespace inkan::server

#endif  // INKAN_SERVER_HTTP_FORMS_H_
