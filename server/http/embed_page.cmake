# Writes the explorer page as a C++ string constant (actd::kExplorerPage).
# Usage: cmake -DIN=<explorer.html> -DOUT=<explorer_page.cc> -P <this file>
file(READ ${IN} page)
string(FIND "${page}" ")actd_page\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${IN} contains the raw-string delimiter )actd_page\"")
endif()
file(WRITE ${OUT} "// Generated from explorer.html; do not edit.\nnamespace actd {\n"
                  "extern const char kExplorerPage[];\n"
                  "const char kExplorerPage[] = R\"actd_page(${page})actd_page\";\n"
                  "}  // namespace actd\n")
