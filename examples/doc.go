// Package examples holds collector configs users start from, one backend or
// topology each. It has no code: its tests build the distribution from
// builder-config.yaml and run each config in it.
package examples
