package org.pageserver.metrics;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * A strict reader of the Prometheus text exposition format 0.0.4, for tests: the Java client
 * (1.x) writes the format but has no reader. Follows the format's specification
 * (prometheus.io/docs/instrumenting/exposition_formats): HELP and TYPE lines, one TYPE per
 * family before its samples, a family's lines together, metric and label names by their
 * grammar, label values with their three escapes, Go float values (NaN, +Inf, -Inf), optional
 * timestamps; histograms must have cumulative buckets ending in {@code le="+Inf"} equal to
 * their {@code _count}. Any deviation throws IllegalArgumentException naming the line.
 */
public final class PrometheusText {
    private static final Pattern METRIC_NAME = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");
    private static final Pattern LABEL_NAME = Pattern.compile("[a-zA-Z_][a-zA-Z0-9_]*");
    private static final Set<String> TYPES = Set.of("counter", "gauge", "histogram", "summary", "untyped");

    public record Sample(String name, Map<String, String> labels, double value) {
    }

    private final Map<String, String> types = new LinkedHashMap<>();
    private final List<Sample> samples = new ArrayList<>();

    private PrometheusText() {
    }

    public static PrometheusText parse(String text) {
        PrometheusText t = new PrometheusText();
        t.read(text);
        return t;
    }

    public List<Sample> samples() {
        return samples;
    }

    /** Family name to its TYPE. */
    public Map<String, String> types() {
        return types;
    }

    /** The sample names present (a histogram's as {@code _bucket}, {@code _count}, {@code _sum}). */
    public Set<String> sampleNames() {
        Set<String> s = new HashSet<>();
        for (Sample x : samples) {
            s.add(x.name());
        }
        return s;
    }

    /** The value of one series; labels must match exactly. */
    public double value(String name, Map<String, String> labels) {
        for (Sample s : samples) {
            if (s.name().equals(name) && s.labels().equals(labels)) {
                return s.value();
            }
        }
        throw new AssertionError("no series " + name + labels);
    }

    /** The value of one series, or {@code absent} when it is not exposed (yet). */
    public double valueOr(String name, Map<String, String> labels, double absent) {
        for (Sample s : samples) {
            if (s.name().equals(name) && s.labels().equals(labels)) {
                return s.value();
            }
        }
        return absent;
    }

    private void read(String text) {
        if (!text.isEmpty() && !text.endsWith("\n")) {
            throw new IllegalArgumentException("the last line does not end with a newline");
        }
        Set<String> closed = new HashSet<>();
        Set<String> helped = new HashSet<>();
        Set<String> seen = new HashSet<>();
        String current = null;
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length - 1; i++) {
            String line = lines[i];
            int n = i + 1;
            if (line.isEmpty()) {
                continue;
            }
            String family;
            if (line.startsWith("#")) {
                String[] f = line.split(" ", 4);
                if (f.length < 3 || !(f[1].equals("HELP") || f[1].equals("TYPE"))) {
                    continue; // a plain comment
                }
                family = name(f[2], n);
                if (f[1].equals("TYPE")) {
                    if (f.length != 4 || !TYPES.contains(f[3])) {
                        throw bad(n, "bad TYPE line: " + line);
                    }
                    if (types.containsKey(family)) {
                        throw bad(n, "second TYPE for " + family);
                    }
                    if (seen.contains(family)) {
                        throw bad(n, "TYPE of " + family + " after its samples");
                    }
                    types.put(family, f[3]);
                } else if (!helped.add(family)) {
                    throw bad(n, "second HELP for " + family);
                }
            } else {
                Sample s = sample(line, n);
                family = familyOf(s.name());
                seen.add(family);
                samples.add(s);
            }
            if (!family.equals(current)) {
                if (closed.contains(family)) {
                    throw bad(n, "lines of " + family + " are not together");
                }
                if (current != null) {
                    closed.add(current);
                }
                current = family;
            }
        }
        checkSeries();
        checkHistograms();
    }

    private String familyOf(String sample) {
        for (String suffix : new String[] {"_bucket", "_count", "_sum"}) {
            if (sample.endsWith(suffix)) {
                String base = sample.substring(0, sample.length() - suffix.length());
                String type = types.get(base);
                if ("histogram".equals(type) || ("summary".equals(type) && !suffix.equals("_bucket"))) {
                    return base;
                }
            }
        }
        return sample;
    }

    private Sample sample(String line, int n) {
        int p = 0;
        while (p < line.length() && line.charAt(p) != '{' && line.charAt(p) != ' ') {
            p++;
        }
        String name = name(line.substring(0, p), n);
        Map<String, String> labels = new TreeMap<>();
        if (p < line.length() && line.charAt(p) == '{') {
            p++;
            while (true) {
                if (p >= line.length()) {
                    throw bad(n, "unterminated label set");
                }
                if (line.charAt(p) == '}') {
                    p++;
                    break;
                }
                int eq = line.indexOf('=', p);
                if (eq < 0) {
                    throw bad(n, "label without =");
                }
                String label = line.substring(p, eq);
                if (!LABEL_NAME.matcher(label).matches()) {
                    throw bad(n, "bad label name \"" + label + "\"");
                }
                p = eq + 1;
                if (p >= line.length() || line.charAt(p) != '"') {
                    throw bad(n, "label value not quoted");
                }
                p++;
                StringBuilder v = new StringBuilder();
                while (true) {
                    if (p >= line.length()) {
                        throw bad(n, "unterminated label value");
                    }
                    char c = line.charAt(p++);
                    if (c == '"') {
                        break;
                    }
                    if (c == '\\') {
                        if (p >= line.length()) {
                            throw bad(n, "escape at the end of the line");
                        }
                        char e = line.charAt(p++);
                        v.append(switch (e) {
                            case '\\' -> '\\';
                            case '"' -> '"';
                            case 'n' -> '\n';
                            default -> throw bad(n, "bad escape \\" + e);
                        });
                    } else {
                        v.append(c);
                    }
                }
                if (labels.put(label, v.toString()) != null) {
                    throw bad(n, "label " + label + " twice");
                }
                if (p < line.length() && line.charAt(p) == ',') {
                    p++;
                } else if (p >= line.length() || line.charAt(p) != '}') {
                    throw bad(n, "expected , or } after a label");
                }
            }
        }
        if (p >= line.length() || line.charAt(p) != ' ') {
            throw bad(n, "expected a space before the value");
        }
        String[] rest = line.substring(p + 1).split(" ", -1);
        if (rest.length < 1 || rest.length > 2) {
            throw bad(n, "expected a value and an optional timestamp");
        }
        double value = number(rest[0], n);
        if (rest.length == 2) {
            try {
                Long.parseLong(rest[1]);
            } catch (NumberFormatException e) {
                throw bad(n, "bad timestamp \"" + rest[1] + "\"");
            }
        }
        return new Sample(name, Map.copyOf(labels), value);
    }

    private static double number(String s, int n) {
        switch (s) {
            case "NaN":
                return Double.NaN;
            case "+Inf":
                return Double.POSITIVE_INFINITY;
            case "-Inf":
                return Double.NEGATIVE_INFINITY;
            default:
                break;
        }
        if (!s.matches("[+-]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]+)?")) {
            throw bad(n, "bad value \"" + s + "\"");
        }
        return Double.parseDouble(s);
    }

    private static String name(String s, int n) {
        if (!METRIC_NAME.matcher(s).matches()) {
            throw bad(n, "bad metric name \"" + s + "\"");
        }
        return s;
    }

    private void checkSeries() {
        Set<String> keys = new HashSet<>();
        for (Sample s : samples) {
            if (!keys.add(s.name() + new TreeMap<>(s.labels()))) {
                throw new IllegalArgumentException("series " + s.name() + s.labels() + " twice");
            }
        }
    }

    private void checkHistograms() {
        for (Map.Entry<String, String> t : types.entrySet()) {
            if (!t.getValue().equals("histogram")) {
                continue;
            }
            String base = t.getKey();
            Map<Map<String, String>, TreeMap<Double, Double>> buckets = new HashMap<>();
            for (Sample s : samples) {
                if (s.name().equals(base + "_bucket")) {
                    String le = s.labels().get("le");
                    if (le == null) {
                        throw new IllegalArgumentException(base + "_bucket without le");
                    }
                    Map<String, String> rest = new HashMap<>(s.labels());
                    rest.remove("le");
                    buckets.computeIfAbsent(Map.copyOf(rest), k -> new TreeMap<>()).put(number(le, 0), s.value());
                }
            }
            for (Map.Entry<Map<String, String>, TreeMap<Double, Double>> e : buckets.entrySet()) {
                double prev = 0;
                for (double v : e.getValue().values()) {
                    if (v < prev) {
                        throw new IllegalArgumentException(base + e.getKey() + ": buckets are not cumulative");
                    }
                    prev = v;
                }
                Double inf = e.getValue().get(Double.POSITIVE_INFINITY);
                if (inf == null) {
                    throw new IllegalArgumentException(base + e.getKey() + ": no le=\"+Inf\" bucket");
                }
                double count = value(base + "_count", e.getKey());
                if (count != inf) {
                    throw new IllegalArgumentException(base + e.getKey() + ": +Inf bucket " + inf + " != count " + count);
                }
                value(base + "_sum", e.getKey());
            }
        }
    }

    private static IllegalArgumentException bad(int line, String what) {
        return new IllegalArgumentException("line " + line + ": " + what);
    }
}
