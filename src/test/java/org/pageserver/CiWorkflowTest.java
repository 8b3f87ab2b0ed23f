package org.pageserver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

/**
 * The GitHub Actions workflow stays a thin wrapper around what is exercised here: it parses, it
 * runs on push and pull request, every script its steps call exists, and it runs .ci/run, which
 * runs exactly the README's test command.
 */
class CiWorkflowTest {
    static final Path WORKFLOW = Path.of(".github/workflows/ci.yml");
    /** A repository file a run step calls: a script under scripts/, bench/ or .ci/. */
    static final Pattern SCRIPT = Pattern.compile("(?<![\\w./-])((?:scripts|bench|\\.ci)/[\\w./-]+)");

    @SuppressWarnings("unchecked")
    static Map<Object, Object> workflow() throws IOException {
        return (Map<Object, Object>) new Yaml().load(Files.readString(WORKFLOW));
    }

    @SuppressWarnings("unchecked")
    static List<String> runSteps() throws IOException {
        List<String> runs = new ArrayList<>();
        for (Object job : ((Map<String, Object>) workflow().get("jobs")).values()) {
            for (Map<String, Object> step : (List<Map<String, Object>>) ((Map<String, Object>) job).get("steps")) {
                if (step.get("run") != null) {
                    runs.add((String) step.get("run"));
                }
            }
        }
        return runs;
    }

    @Test
    @SuppressWarnings("unchecked")
    void runsOnPushAndPullRequest() throws IOException {
        Map<Object, Object> w = workflow();
        // YAML 1.1 reads the key `on` as the boolean true, as GitHub's own parser does not
        Map<String, Object> on = (Map<String, Object>) (w.containsKey("on") ? w.get("on") : w.get(Boolean.TRUE));
        assertTrue(on.containsKey("push") && on.containsKey("pull_request"), "triggers: " + on.keySet());
    }

    @Test
    void everyScriptItCallsExists() throws IOException {
        int scripts = 0;
        for (String run : runSteps()) {
            Matcher m = SCRIPT.matcher(run);
            while (m.find()) {
                scripts++;
                assertTrue(Files.isRegularFile(Path.of(m.group(1))), m.group(1) + " called by the workflow");
            }
        }
        assertTrue(scripts > 0, "the workflow calls no script of the repository");
    }

    @Test
    void itRunsTheReadmesTestCommandThroughCiRun() throws IOException {
        assertTrue(runSteps().contains("bash .ci/run"), "no step runs `bash .ci/run`: " + runSteps());
        String readme = Files.readString(Path.of("README.md"));
        Matcher m = Pattern.compile("(?m)^(bash scripts/\\S+)\\s+# 2\\. the whole test suite").matcher(readme);
        assertTrue(m.find(), "the README's test command");
        List<String> commands = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of(".ci/run"))) {
            if (!line.isBlank() && !line.startsWith("#") && !line.startsWith("set ") && !line.startsWith("cd ")) {
                commands.add(line.trim());
            }
        }
        assertEquals(List.of("exec " + m.group(1)), commands, ".ci/run runs the README's test command and nothing else");
    }
}
