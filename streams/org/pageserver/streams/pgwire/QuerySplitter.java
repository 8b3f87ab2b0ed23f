package org.pageserver.streams.pgwire;

import java.util.ArrayList;
import java.util.List;

/**
 * Splits a simple-Query string into statements at semicolons that are outside of quotes and
 * comments, the way PostgreSQL's lexer (scan.l) would see them: '...' (with '' inside), E'...'
 * (with backslash escapes), "...", $tag$...$tag$, -- line comments and nested slash-star
 * comments. Each statement is returned trimmed, without its ';'. Pieces that hold nothing but
 * whitespace and comments are dropped (as PostgreSQL ignores empty statements), so an empty list
 * means an empty query.
 */
final class QuerySplitter {

    private QuerySplitter() {
    }

    static List<String> split(String sql) {
        List<String> out = new ArrayList<>();
        int n = sql.length();
        int start = 0;
        boolean hasContent = false;
        int i = 0;
        while (i < n) {
            char c = sql.charAt(i);
            if (c == '\'') {
                boolean escapes = i > 0 && (sql.charAt(i - 1) == 'E' || sql.charAt(i - 1) == 'e')
                        && (i < 2 || !isIdentChar(sql.charAt(i - 2)));
                i = skipQuoted(sql, i + 1, '\'', escapes);
                hasContent = true;
            } else if (c == '"') {
                i = skipQuoted(sql, i + 1, '"', false);
                hasContent = true;
            } else if (c == '-' && i + 1 < n && sql.charAt(i + 1) == '-') {
                int nl = sql.indexOf('\n', i);
                i = nl < 0 ? n : nl + 1;
            } else if (c == '/' && i + 1 < n && sql.charAt(i + 1) == '*') {
                i = skipBlockComment(sql, i + 2);
            } else if (c == '$' && (i == 0 || !isIdentChar(sql.charAt(i - 1)))) {
                int tagEnd = dollarTagEnd(sql, i);
                if (tagEnd > 0) {
                    String tag = sql.substring(i, tagEnd + 1);
                    int close = sql.indexOf(tag, tagEnd + 1);
                    i = close < 0 ? n : close + tag.length();
                } else {
                    i++;
                }
                hasContent = true;
            } else if (c == ';') {
                if (hasContent) {
                    out.add(sql.substring(start, i).trim());
                }
                start = i + 1;
                hasContent = false;
                i++;
            } else {
                if (!Character.isWhitespace(c)) {
                    hasContent = true;
                }
                i++;
            }
        }
        if (hasContent) {
            out.add(sql.substring(start).trim());
        }
        return out;
    }

    private static boolean isIdentChar(char c) {
        return Character.isLetterOrDigit(c) || c == '_' || c == '$';
    }

    /** Index after the closing quote (a doubled quote is an escaped quote), or the end. */
    private static int skipQuoted(String s, int i, char q, boolean backslashEscapes) {
        int n = s.length();
        while (i < n) {
            char c = s.charAt(i);
            if (backslashEscapes && c == '\\') {
                i += 2;
            } else if (c == q) {
                if (i + 1 < n && s.charAt(i + 1) == q) {
                    i += 2;
                } else {
                    return i + 1;
                }
            } else {
                i++;
            }
        }
        return n;
    }

    private static int skipBlockComment(String s, int i) {
        int depth = 1;
        int n = s.length();
        while (i < n && depth > 0) {
            if (s.startsWith("/*", i)) {
                depth++;
                i += 2;
            } else if (s.startsWith("*/", i)) {
                depth--;
                i += 2;
            } else {
                i++;
            }
        }
        return i;
    }

    /** If a dollar-quote tag ($$ or $ident$) starts at i, the index of its closing '$'; else -1. */
    private static int dollarTagEnd(String s, int i) {
        int j = i + 1;
        int n = s.length();
        if (j < n && s.charAt(j) == '$') {
            return j;
        }
        if (j >= n || !(Character.isLetter(s.charAt(j)) || s.charAt(j) == '_')) {
            return -1;
        }
        while (j < n && (Character.isLetterOrDigit(s.charAt(j)) || s.charAt(j) == '_')) {
            j++;
        }
        return j < n && s.charAt(j) == '$' ? j : -1;
    }
}
