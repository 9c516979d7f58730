package ipvsadm

import (
	"github.com/ulvs/ulvs/config"
)

// Option tags: short options use their letter, long-only options a value
// above 127, as ipvsadm does.
const (
	tagSet = 128 + iota
	tagStartDaemon
	tagStopDaemon
	tagMcastInterface
	tagTimeout
	tagDaemon
	tagStats
	tagRate
	tagThresholds
	tagPersistentConn
	tagSort
	tagNoSort
	tagPersistenceEngine
	tagSCTPService
	tagMcastGroup
	tagMcastPort
	tagMcastTTL
	tagSyncMaxLen
	tagTunInfo
	tagTunType
	tagTunPort
	tagTunNoCsum
	tagTunCsum
	tagTunRemCsum
	tagFullNAT  // ulvs: --fullnat
	tagLAddr    // ulvs: --laddr
	tagSynProxy // ulvs: --synproxy
	tagSyncID
)

type argKind uint8

const (
	argNone argKind = iota
	argRequired
	argOptional
)

type optDef struct {
	long  string
	short byte
	arg   argKind
	tag   int
}

// options is ipvsadm 1.31's popt table.
var options = []optDef{
	{"add-service", 'A', argNone, 'A'},
	{"edit-service", 'E', argNone, 'E'},
	{"delete-service", 'D', argNone, 'D'},
	{"clear", 'C', argNone, 'C'},
	{"list", 'L', argNone, 'L'},
	{"list", 'l', argNone, 'l'},
	{"zero", 'Z', argNone, 'Z'},
	{"add-server", 'a', argNone, 'a'},
	{"edit-server", 'e', argNone, 'e'},
	{"delete-server", 'd', argNone, 'd'},
	{"set", 0, argNone, tagSet},
	{"help", 'h', argNone, 'h'},
	{"version", 'v', argNone, 'v'},
	{"restore", 'R', argNone, 'R'},
	{"save", 'S', argNone, 'S'},
	{"start-daemon", 0, argRequired, tagStartDaemon},
	{"stop-daemon", 0, argRequired, tagStopDaemon},
	{"tcp-service", 't', argRequired, 't'},
	{"udp-service", 'u', argRequired, 'u'},
	{"sctp-service", 0, argRequired, tagSCTPService},
	{"fwmark-service", 'f', argRequired, 'f'},
	{"scheduler", 's', argRequired, 's'},
	{"persistent", 'p', argOptional, 'p'},
	{"netmask", 'M', argRequired, 'M'},
	{"real-server", 'r', argRequired, 'r'},
	{"masquerading", 'm', argNone, 'm'},
	{"ipip", 'i', argNone, 'i'},
	{"gatewaying", 'g', argNone, 'g'},
	{"weight", 'w', argRequired, 'w'},
	{"u-threshold", 'x', argRequired, 'x'},
	{"l-threshold", 'y', argRequired, 'y'},
	{"numeric", 'n', argNone, 'n'},
	{"connection", 'c', argNone, 'c'},
	{"mcast-interface", 0, argRequired, tagMcastInterface},
	{"syncid", 0, argRequired, tagSyncID},
	{"timeout", 0, argNone, tagTimeout},
	{"daemon", 0, argNone, tagDaemon},
	{"stats", 0, argNone, tagStats},
	{"rate", 0, argNone, tagRate},
	{"thresholds", 0, argNone, tagThresholds},
	{"persistent-conn", 0, argNone, tagPersistentConn},
	{"nosort", 0, argNone, tagNoSort},
	{"sort", 0, argNone, tagSort},
	{"exact", 'X', argNone, 'X'},
	{"ipv6", '6', argNone, '6'},
	{"ops", 'o', argNone, 'o'},
	{"pe", 0, argRequired, tagPersistenceEngine},
	{"sched-flags", 'b', argRequired, 'b'},
	{"mcast-group", 0, argRequired, tagMcastGroup},
	{"mcast-port", 0, argRequired, tagMcastPort},
	{"mcast-ttl", 0, argRequired, tagMcastTTL},
	{"sync-maxlen", 0, argRequired, tagSyncMaxLen},
	{"tun-info", 0, argNone, tagTunInfo},
	{"tun-type", 0, argRequired, tagTunType},
	{"tun-port", 0, argRequired, tagTunPort},
	{"tun-nocsum", 0, argNone, tagTunNoCsum},
	{"tun-csum", 0, argNone, tagTunCsum},
	{"tun-remcsum", 0, argNone, tagTunRemCsum},
	// ulvs extensions for FULLNAT (not in ipvsadm): the forwarding switch
	// of -a/-e, and the service's local addresses on -A/-E.
	{"fullnat", 0, argNone, tagFullNAT},
	{"laddr", 0, argRequired, tagLAddr},
	{"synproxy", 0, argNone, tagSynProxy},
}

// Option indexes (ipvsadm's OPTC_*) and names (optnames).
const (
	optNumeric = iota
	optConnection
	optService
	optScheduler
	optPersistent
	optNetmask
	optServer
	optForward
	optWeight
	optUThreshold
	optLThreshold
	optMcast
	optTimeout
	optDaemon
	optStats
	optRate
	optThresholds
	optPersistentConn
	optNoSort
	optSyncID
	optExact
	optOnePacket
	optPE
	optSchedFlags
	optMcastGroup
	optMcastPort
	optMcastTTL
	optSyncMaxLen
	optTunInfo
	optTunType
	optTunPort
	optTunNoCsum
	optTunCsum
	optTunRemCsum
	optLAddr    // ulvs
	optSynProxy // ulvs
	numOpts
)

var optNames = [numOpts]string{
	"numeric", "connection", "service-address", "scheduler", "persistent",
	"netmask", "real-server", "forwarding-method", "weight", "u-threshold",
	"l-threshold", "mcast-interface", "timeout", "daemon", "stats", "rate",
	"thresholds", "persistent-conn", "nosort", "syncid", "exact", "ops", "pe",
	"sched-flags", "mcast-group", "mcast-port", "mcast-ttl", "sync-maxlen",
	"tun-info", "tun-type", "tun-port", "tun-nocsum", "tun-csum", "tun-remcsum",
	"laddr", "synproxy",
}

// commandOptions is ipvsadm's commands_v_options table: per command, per
// option, '+' compulsory, 'x' illegal, '1' exclusive, ' ' optional.
var commandOptions = map[config.Op]string{
	config.OpAddService:  "xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx  ",
	config.OpEditService: "xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx  ",
	config.OpDelService:  "xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	config.OpClear:       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	config.OpList:        " 11xxxxxxxxx11       xxxxxxx xxxxxxx",
	config.OpAddDest:     "xx+xxx+    xxxxxxxxxxxxxxxxxx     xx",
	config.OpDelDest:     "xx+xxx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	config.OpEditDest:    "xx+xxx+    xxxxxxxxxxxxxxxxxx     xx",
	config.OpSetTimeout:  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	config.OpStartDaemon: "xxxxxxxxxxx xxxxxxx xxxx    xxxxxxxx",
	config.OpStopDaemon:  "xxxxxxxxxxxxxxxxxxx xxxxxxxxxxxxxxxx",
	config.OpRestore:     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	config.OpSave:        " xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	config.OpZero:        "xx xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
}

// tunnelOptions is tunnel_types_v_options over --tun-port, --tun-nocsum,
// --tun-csum and --tun-remcsum.
var (
	tunnelOpts    = [4]int{optTunPort, optTunNoCsum, optTunCsum, optTunRemCsum}
	tunnelOptions = map[string]string{
		config.TunnelIPIP: "xxxx",
		config.TunnelGUE:  "+111",
		config.TunnelGRE:  "x11x",
	}
)

// popt error codes and poptStrerror's text.
const (
	poptNoArg       = "missing argument"
	poptBadOpt      = "unknown option"
	poptUnwantedArg = "option does not take an argument"
)
