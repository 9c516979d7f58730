package ipvsadm

import (
	"strings"
)

// popt walks argv as libpopt does for ipvsadm's table (no aliases, flags
// 0): short options cluster ("-Ln"), a short option's argument may follow
// it in the same word ("-w3", "-w=3"), long options take "--opt=val" or the
// next word, optional arguments only a next word not starting with '-',
// words that are not options are left over in order, "--" ends options.
type popt struct {
	argv      []string
	next      int
	nextChars string
	rest      bool
	leftovers []string
}

// getNext returns the next option's tag and argument. tag is -1 at the end;
// errText is set on a popt error.
func (p *popt) getNext() (tag int, arg *string, errText string) {
	for {
		var opt *optDef
		var longArg *string
		if p.nextChars == "" {
			if p.next >= len(p.argv) {
				return -1, nil, ""
			}
			s := p.argv[p.next]
			p.next++
			if p.rest || len(s) < 2 || s[0] != '-' {
				p.leftovers = append(p.leftovers, s)
				continue
			}
			if s == "--" {
				p.rest = true
				continue
			}
			if s[1] == '-' {
				name := s[2:]
				if i := strings.IndexByte(name, '='); i >= 0 {
					v := name[i+1:]
					longArg = &v
					name = name[:i]
				}
				for i := range options {
					if options[i].long == name {
						opt = &options[i]
						break
					}
				}
				if opt == nil {
					return 0, nil, poptBadOpt
				}
			} else {
				p.nextChars = s[1:]
			}
		}
		if opt == nil {
			c := p.nextChars[0]
			p.nextChars = p.nextChars[1:]
			for i := range options {
				if options[i].short == c {
					opt = &options[i]
					break
				}
			}
			if opt == nil {
				p.nextChars = ""
				return 0, nil, poptBadOpt
			}
			if strings.HasPrefix(p.nextChars, "=") {
				p.nextChars = p.nextChars[1:]
			}
		}
		switch opt.arg {
		case argNone:
			if longArg != nil {
				return 0, nil, poptUnwantedArg
			}
			return opt.tag, nil, ""
		default:
			if longArg != nil {
				return opt.tag, longArg, ""
			}
			if p.nextChars != "" {
				v := p.nextChars
				p.nextChars = ""
				return opt.tag, &v, ""
			}
			if p.next >= len(p.argv) {
				if opt.arg == argOptional {
					return opt.tag, nil, ""
				}
				return 0, nil, poptNoArg
			}
			v := p.argv[p.next]
			if opt.arg == argOptional && strings.HasPrefix(v, "-") {
				return opt.tag, nil, ""
			}
			p.next++
			return opt.tag, &v, ""
		}
	}
}

// badOption is poptBadOption: the argv word last consumed.
func (p *popt) badOption() string {
	if p.next > 0 {
		return p.argv[p.next-1]
	}
	return "(null)"
}

func (p *popt) getArg() (string, bool) {
	if len(p.leftovers) == 0 {
		return "", false
	}
	a := p.leftovers[0]
	p.leftovers = p.leftovers[1:]
	return a, true
}
