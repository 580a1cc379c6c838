#include "server/http_forms.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace inkan::server {

std::string PercentDecode(absl::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    int v = 0;
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < in.size() &&
               absl::SimpleHexAtoi(in.substr(i + 1, 2), &v)) {
      out.push_back(static_cast<char>(v));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::map<std::string, std::string> ParseForm(absl::string_view body) {
  std::map<std::string, std::string> out;
  for (absl::string_view pair : absl::StrSplit(body, '&', absl::SkipEmpty())) {
    size_t eq = pair.find('=');
    std::string k = PercentDecode(pair.substr(0, eq));
    std::string v =
        eq == absl::string_view::npos ? "" : PercentDecode(pair.substr(eq + 1));
    out[k] = std::move(v);
  }
  return out;
}

std::string HeaderValue(const api::HttpRequest& req, absl::string_view name) {
  auto it = req.headers.find(std::string(name));
  return it == req.headers.end() ? "" : it->second;
}

std::string CookieValue(const api::HttpRequest& req, absl::string_view name) {
  for (absl::string_view part :
       absl::StrSplit(HeaderValue(req, "cookie"), ';', absl::SkipEmpty())) {
    part = absl::StripAsciiWhitespace(part);
    if (absl::StartsWith(part, absl::StrCat(name, "="))) {
      return std::string(part.substr(name.size() + 1));
    }
  }
  return "";
}

std::string BearerToken(const api::HttpRequest& req) {
  std::string h = HeaderValue(req, "authorization");
  if (h.size() > 7 && absl::StartsWithIgnoreCase(h, "Bearer ")) {
    return std::string(absl::StripAsciiWhitespace(h.substr(7)));
  }
  return "";
}

}  // namespace inkan::server
