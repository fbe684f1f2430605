package ebpftapreceiver

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// eachSumPoint calls f with every data point of the sum metrics named name
// in md, and the resource they belong to.
func eachSumPoint(md pmetric.Metrics, name string, f func(pcommon.Resource, pmetric.NumberDataPoint)) {
	rms := md.ResourceMetrics()
	for i := range rms.Len() {
		rm := rms.At(i)
		sms := rm.ScopeMetrics()
		for j := range sms.Len() {
			ms := sms.At(j).Metrics()
			for k := range ms.Len() {
				if m := ms.At(k); m.Name() == name {
					dps := m.Sum().DataPoints()
					for d := range dps.Len() {
						f(rm.Resource(), dps.At(d))
					}
				}
			}
		}
	}
}
