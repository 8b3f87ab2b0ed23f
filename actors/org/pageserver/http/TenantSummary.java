package org.pageserver.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.DataPointSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import org.pageserver.protocol.SystemId;

/**
 * One tenant's samples of a scrape, as JSON keyed by their Prometheus sample names (counters
 * with {@code _total}, histograms as {@code _count} and {@code _sum}, other labels than
 * system_id in braces): what {@code GET /v1/tenant/<system_id>} shows next to the status row.
 */
final class TenantSummary {
    private TenantSummary() {
    }

    static ObjectNode of(MetricSnapshots snapshots, SystemId id, ObjectMapper json) {
        String label = id.toString();
        ObjectNode o = json.createObjectNode();
        for (MetricSnapshot s : snapshots) {
            String name = s.getMetadata().getPrometheusName();
            for (DataPointSnapshot p : s.getDataPoints()) {
                if (!label.equals(p.getLabels().get("system_id"))) {
                    continue;
                }
                String others = otherLabels(p.getLabels());
                if (p instanceof CounterSnapshot.CounterDataPointSnapshot c) {
                    o.put(name + "_total" + others, c.getValue());
                } else if (p instanceof GaugeSnapshot.GaugeDataPointSnapshot g) {
                    o.put(name + others, g.getValue());
                } else if (p instanceof HistogramSnapshot.HistogramDataPointSnapshot h) {
                    o.put(name + "_count" + others, h.getCount());
                    o.put(name + "_sum" + others, h.getSum());
                }
            }
        }
        return o;
    }

    private static String otherLabels(Labels labels) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < labels.size(); i++) {
            if (labels.getName(i).equals("system_id")) {
                continue;
            }
            b.append(b.length() == 0 ? "{" : ",").append(labels.getName(i)).append("=\"").append(labels.getValue(i))
                .append('"');
        }
        return b.length() == 0 ? "" : b.append('}').toString();
    }
}
