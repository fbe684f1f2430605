package ebpftapreceiver

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// eachSumPoint calls f with every data point of the sum metrics named name
// in md, and the resource they belong to.
func eachSumPoint(md pmetric.Metrics, name string, f func(pcommon.Resource, pmetric.NumberDataPoint)) {
	eachMetric(md, name, func(r pcommon.Resource, m pmetric.Metric) {
		for _, dp := range m.Sum().DataPoints().All() {
			f(r, dp)
		}
	})
}

// eachHistogramPoint calls f with every data point of the histograms named
// name in md, and the resource they belong to.
func eachHistogramPoint(md pmetric.Metrics, name string, f func(pcommon.Resource, pmetric.HistogramDataPoint)) {
	eachMetric(md, name, func(r pcommon.Resource, m pmetric.Metric) {
		for _, dp := range m.Histogram().DataPoints().All() {
			f(r, dp)
		}
	})
}

// eachMetric calls f with every metric named name in md, and its resource.
func eachMetric(md pmetric.Metrics, name string, f func(pcommon.Resource, pmetric.Metric)) {
	for _, rm := range md.ResourceMetrics().All() {
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				if m.Name() == name {
					f(rm.Resource(), m)
				}
			}
		}
	}
}
