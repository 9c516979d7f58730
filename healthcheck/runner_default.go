package healthcheck

import "github.com/ulvs/ulvs/config"

// newRunner is the production CheckerFunc.
func newRunner(c config.Check, t Target, env *Env, up bool, onChange func(Transition)) (Runner, error) {
	return NewChecker(c, t, env, up, onChange)
}
