#include "server/s3_xml.h"

#include <charconv>

#include <pugixml.hpp>

namespace thumbpipe::server {
namespace {

Status Malformed(std::string_view why) {
  return Status::InvalidArgument("MalformedXML: " + std::string(why));
}

Result<pugi::xml_document*> Load(pugi::xml_document& doc, std::string_view xml) {
  // No DOCTYPE processing in pugixml (no entity expansion): billion-laughs cannot happen.
  const pugi::xml_parse_result parsed =
      doc.load_buffer(xml.data(), xml.size(), pugi::parse_default & ~pugi::parse_doctype);
  if (!parsed) return Malformed(parsed.description());
  return &doc;
}

std::string Text(const pugi::xml_node& node) { return node.text().get(); }

std::string Unquote(std::string s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') return s.substr(1, s.size() - 2);
  return s;
}

}  // namespace

std::string XmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      case '\r': out += "&#13;"; break;
      default: out += c;
    }
  }
  return out;
}

void XmlWriter::Declaration() { out_ += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"; }

void XmlWriter::Open(std::string_view name, bool with_namespace) {
  out_ += '<';
  out_ += name;
  if (with_namespace) {
    out_ += " xmlns=\"";
    out_ += kS3Namespace;
    out_ += '"';
  }
  out_ += '>';
}

void XmlWriter::Close(std::string_view name) {
  out_ += "</";
  out_ += name;
  out_ += '>';
}

void XmlWriter::Element(std::string_view name, std::string_view text) {
  Open(name);
  out_ += XmlEscape(text);
  Close(name);
}

Result<DeleteRequest> ParseDeleteRequest(std::string_view xml) {
  pugi::xml_document doc;
  THUMBPIPE_RETURN_IF_ERROR(Load(doc, xml).status());
  const pugi::xml_node root = doc.child("Delete");
  if (!root) return Malformed("root element must be Delete");
  DeleteRequest req;
  const std::string quiet = Text(root.child("Quiet"));
  req.quiet = quiet == "true" || quiet == "True";
  for (pugi::xml_node obj = root.child("Object"); obj; obj = obj.next_sibling("Object")) {
    const pugi::xml_node key = obj.child("Key");
    if (!key) return Malformed("Object without Key");
    req.keys.push_back(Text(key));
  }
  if (req.keys.empty()) return Malformed("no Object to delete");
  if (req.keys.size() > 1000) return Malformed("more than 1000 objects");
  return req;
}

Result<std::vector<CompletePart>> ParseCompleteRequest(std::string_view xml) {
  pugi::xml_document doc;
  THUMBPIPE_RETURN_IF_ERROR(Load(doc, xml).status());
  const pugi::xml_node root = doc.child("CompleteMultipartUpload");
  if (!root) return Malformed("root element must be CompleteMultipartUpload");
  std::vector<CompletePart> parts;
  for (pugi::xml_node p = root.child("Part"); p; p = p.next_sibling("Part")) {
    CompletePart part;
    const std::string number = Text(p.child("PartNumber"));
    auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), part.number);
    if (ec != std::errc() || ptr != number.data() + number.size()) return Malformed("bad PartNumber");
    part.etag = Unquote(Text(p.child("ETag")));
    parts.push_back(std::move(part));
  }
  if (parts.empty()) return Malformed("no Part");
  return parts;
}

Result<std::vector<CorsRule>> ParseCorsConfiguration(std::string_view xml) {
  pugi::xml_document doc;
  THUMBPIPE_RETURN_IF_ERROR(Load(doc, xml).status());
  const pugi::xml_node root = doc.child("CORSConfiguration");
  if (!root) return Malformed("root element must be CORSConfiguration");
  std::vector<CorsRule> rules;
  for (pugi::xml_node r = root.child("CORSRule"); r; r = r.next_sibling("CORSRule")) {
    CorsRule rule;
    rule.id = Text(r.child("ID"));
    for (auto n : r.children("AllowedOrigin")) rule.allowed_origins.push_back(Text(n));
    for (auto n : r.children("AllowedMethod")) rule.allowed_methods.push_back(Text(n));
    for (auto n : r.children("AllowedHeader")) rule.allowed_headers.push_back(Text(n));
    for (auto n : r.children("ExposeHeader")) rule.expose_headers.push_back(Text(n));
    if (const pugi::xml_node age = r.child("MaxAgeSeconds")) {
      // A whole non-negative number, as the schema's int in S3: the rule is stored as
      // CorsConfigurationXml writes it, where -1 means absent, so "-5" would be dropped and
      // "abc" (0 for pugixml's as_int) turned into a value the client never sent.
      const std::string text = Text(age);
      auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), rule.max_age_seconds);
      if (ec != std::errc() || ptr != text.data() + text.size() || rule.max_age_seconds < 0) {
        return Malformed("MaxAgeSeconds must be a non-negative integer");
      }
    }
    if (rule.allowed_origins.empty() || rule.allowed_methods.empty()) {
      return Malformed("CORSRule needs AllowedOrigin and AllowedMethod");
    }
    for (const std::string& m : rule.allowed_methods) {
      if (m != "GET" && m != "PUT" && m != "POST" && m != "DELETE" && m != "HEAD") {
        return Status::InvalidArgument("InvalidRequest: Found unsupported HTTP method in CORS config. Unsupported method is " + m);
      }
    }
    rules.push_back(std::move(rule));
  }
  if (rules.empty() || rules.size() > 100) return Malformed("1 to 100 CORSRule elements are required");
  return rules;
}

std::string CorsConfigurationXml(const std::vector<CorsRule>& rules) {
  XmlWriter x;
  x.Declaration();
  x.Open("CORSConfiguration", true);
  for (const CorsRule& r : rules) {
    x.Open("CORSRule");
    if (!r.id.empty()) x.Element("ID", r.id);
    for (const auto& v : r.allowed_headers) x.Element("AllowedHeader", v);
    for (const auto& v : r.allowed_methods) x.Element("AllowedMethod", v);
    for (const auto& v : r.allowed_origins) x.Element("AllowedOrigin", v);
    for (const auto& v : r.expose_headers) x.Element("ExposeHeader", v);
    if (r.max_age_seconds >= 0) x.Element("MaxAgeSeconds", std::to_string(r.max_age_seconds));
    x.Close("CORSRule");
  }
  x.Close("CORSConfiguration");
  return x.Take();
}

Result<std::string> ParseLocationConstraint(std::string_view xml) {
  if (xml.find_first_not_of(" \t\r\n") == std::string_view::npos) return std::string();
  pugi::xml_document doc;
  THUMBPIPE_RETURN_IF_ERROR(Load(doc, xml).status());
  const pugi::xml_node root = doc.child("CreateBucketConfiguration");
  if (!root) return Malformed("root element must be CreateBucketConfiguration");
  return Text(root.child("LocationConstraint"));
}

}  // namespace thumbpipe::server
