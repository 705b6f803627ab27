# bash completion for pkit: daemonize prefork pqueue palarm preap
# pkillall-title. One file serves all six; `make install` copies it once
# per program name and sets _pkit_prefix to its PROGRAM_PREFIX.
#
# What an option's value is comes from the table in _pkit_spec (file,
# dir, signal, user, pid, queue, or a value left alone: durations,
# counts, titles). The option names themselves are that table plus every
# option the program's --help prints at completion time, so an option
# added later completes even before the table learns its value type.

_pkit_prefix=

_pkit_signals() {
	printf '%s\n' HUP INT QUIT ILL TRAP ABRT BUS FPE KILL USR1 SEGV USR2 \
	    PIPE ALRM TERM CHLD CONT STOP TSTP TTIN TTOU URG XCPU XFSZ \
	    VTALRM PROF WINCH IO PWR SYS RTMIN RTMAX
}

# _pkit_spec PROG [SUBCOMMAND]: the options PROG knows, one line per
# kind: "KIND OPTION...". KIND is flag (no value), file, dir, sig, user,
# pid, queue, or value (anything else; left alone). A name ending in "?"
# is one the program may not have yet: its kind is known, but it is
# offered only once --help prints it.
_pkit_spec() {
	case $1 in
	daemonize) cat <<'EOF'
flag -a --append -N --notify -f --foreground -q --quiet -v --verbose --status --stop -K --kill -h --help -V --version --json --cgroup? --timestamps?
file -o --stdout -e --stderr -p --pidfile -l --lockfile
dir -c --chdir
user -u --user
sig -s --stop-signal --signal
value -m --umask -E --env -A --argv0 --ready-fd -w --wait -t --timeout --retry --check --syslog?
EOF
	;;
	prefork) cat <<'EOF'
flag -L --lines -0 --null -R --reply -k --keep-order -q --quiet -v --verbose -h --help -V --version --cgroup? --timestamps?
file -p --pidfile --status-file?
sig -S --stop-signal
value -n --workers -t --title -g --grace -b --max-delay -M --lifetime -l --listen -m --max-requests --window --retry --max-restarts
EOF
	;;
	palarm) cat <<'EOF'
flag -a --align -i --immediate -T --timestamp -q --quiet -v --verbose -h --help -V --version --foreground --cgroup
sig -s --signal
pid -p --pid
value -c --count -d --deadline -j --jitter -k --kill-after -W --watch
EOF
	;;
	preap) cat <<'EOF'
flag -g --group -w --wait -z --zombies -q --quiet -v --verbose -h --help -V --version --cgroup? --timestamps?
file -r --record
sig -p --pdeath-signal
value -k --kill-after
EOF
	;;
	pkillall-title) cat <<'EOF'
flag -0 --check -l --list -e --echo -F --fixed -r --regex -a --argv0 -A --all-users -n --newest -o --oldest -w --wait -K --kill -q --quiet -h --help -V --version --json -c --count
sig -s --signal
user -u --user
pid -P --parent
dir --cgroup
value -t --timeout
EOF
	;;
	pqueue)
		case $2 in
		'') cat <<'EOF'
flag -q --quiet -v --verbose -h --help -V --version
dir -d --dir?
EOF
		;;
		push) cat <<'EOF'
flag -0 --sync -h --help
value --max-size --delay? --at?
EOF
		;;
		pop) cat <<'EOF'
flag -0 -n -f -h --help
value -w -c
EOF
		;;
		run) cat <<'EOF'
flag -0 -f --stream? -h --help
queue --to?
value -c --max-attempts --window? --retry-delay? --grace?
EOF
		;;
		dead) cat <<'EOF'
flag -0 -l? --requeue -h --help --json?
EOF
		;;
		stat|ls) cat <<'EOF'
flag --json? -h --help
EOF
		;;
		*) cat <<'EOF'
flag -0 -h --help
EOF
		;;
		esac ;;
	esac
}

# _pkit_kind PROG SUB OPTION: the kind of OPTION's value ("" if unknown).
_pkit_kind() {
	local kind opt
	while read -r kind opt; do
		case " $opt " in *" $3 "*|*" $3? "*) printf '%s\n' "$kind"; return ;; esac
	done < <(_pkit_spec "$1" "$2")
}

# _pkit_help_options CMD [SUB]: the long options CMD's --help prints
# (for pqueue SUB: SUB's own --help if it has one, else the lines of the
# whole --help that begin with SUB).
_pkit_help_options() {
	local all sub
	all=$("$1" --help 2>/dev/null)
	if [ -n "$2" ]; then
		sub=$("$1" "$2" --help 2>/dev/null)
		if [ "$sub" = "$all" ]; then
			all=$(printf '%s\n' "$all" | grep -E "^[[:space:]]*(pqueue[[:space:]]+)?$2([^-[:alnum:]]|\$)")
		else
			all=$sub
		fi
	fi
	printf '%s\n' "$all" |
	    grep -oE -- '(^|[][ ,|(])--[A-Za-z0-9][-A-Za-z0-9]*' |
	    sed 's/^[][ ,|(]//' | sort -u
}

# _pkit_titles [argv0]: patterns for the titles of the caller's own
# processes that match as typed: a one-word title itself, else its first
# word and "*" (pkillall-title matches the whole title, so "tp-0" alone
# would not match "tp-0 ./worker"); with argv0 (-a), the first word.
_pkit_titles() {
	local d w
	for d in /proc/[0-9]*; do
		[ -O "$d" ] || continue
		w=()
		mapfile -d '' -t w 2>/dev/null < "$d/cmdline"
		[ -n "${w[0]}" ] || continue
		case ${w[0]} in *[[:space:]]*) continue ;; esac
		if [ "$1" = argv0 ] || [ "${#w[@]}" -eq 1 ]; then
			printf '%s\n' "${w[0]}"
		else
			printf '%s*\n' "${w[0]}"
		fi
	done | sort -u
}

_pkit_pids() {
	local d
	for d in /proc/[0-9]*; do
		[ -O "$d" ] && printf '%s\n' "${d#/proc/}"
	done
}

# _pkit_queues DIR: the queue names under pqueue's directory DIR (or,
# empty, the default: $PQUEUE_DIR, $XDG_RUNTIME_DIR/pqueue,
# /tmp/pqueue-UID, as pqueue(1) says).
_pkit_queues() {
	local d=$1 q
	if [ -z "$d" ]; then
		if [ -n "$PQUEUE_DIR" ]; then d=$PQUEUE_DIR
		elif [ -n "$XDG_RUNTIME_DIR" ]; then d=$XDG_RUNTIME_DIR/pqueue
		else d=/tmp/pqueue-$(id -u)
		fi
	fi
	for q in "$d"/*/; do
		[ -d "$q" ] || continue
		q=${q%/}
		printf '%s\n' "${q##*/}"
	done
}

# _pkit_value KIND CUR [QDIR]: COMPREPLY for an option's value.
_pkit_value() {
	case $1 in
	file)	compopt -o filenames 2>/dev/null || :
		COMPREPLY=($(compgen -f -- "$2")) ;;
	dir)	compopt -o filenames 2>/dev/null || :
		COMPREPLY=($(compgen -d -- "$2")) ;;
	sig)	COMPREPLY=($(compgen -W "$(_pkit_signals)" -- "${2#SIG}")) ;;
	user)	COMPREPLY=($(compgen -u -- "$2")) ;;
	pid)	COMPREPLY=($(compgen -W "$(_pkit_pids)" -- "$2")) ;;
	queue)	COMPREPLY=($(compgen -W "$(_pkit_queues "$3")" -- "$2")) ;;
	*)	COMPREPLY=() ;;
	esac
}

_pkit() {
	local cur prev cmd prog sub= qdir= i w kind opts
	COMPREPLY=()
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	cmd=${COMP_WORDS[0]}
	prog=${cmd##*/}
	prog=${prog#"$_pkit_prefix"}
	case $prog in
	*pkillall-title) prog=pkillall-title ;;
	*daemonize) prog=daemonize ;;
	*prefork) prog=prefork ;;
	*pqueue) prog=pqueue ;;
	*palarm) prog=palarm ;;
	*preap) prog=preap ;;
	esac

	# Walk the words before the cursor, skipping option values: after
	# "--" or the first operand (COMMAND) the words belong to the wrapped
	# command; pqueue's subcommand, its operands and -d DIR are noted.
	local nops=0
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		--)
			if ((i == COMP_CWORD - 1)); then
				COMPREPLY=($(compgen -c -- "$cur"))
			else
				compopt -o default 2>/dev/null || :
			fi
			return ;;
		--dir=*)
			[ "$prog" = pqueue ] && [ -z "$sub" ] && qdir=${w#--dir=} ;;
		--*=*|-)
			;;
		-*)
			kind=$(_pkit_kind "$prog" "$sub" "$w")
			case $kind in ''|flag) ;; *)
				if [ "$prog" = pqueue ] && [ -z "$sub" ]; then
					case $w in -d|--dir) qdir=${COMP_WORDS[i+1]} ;; esac
				fi
				i=$((i + 1)) ;;
			esac ;;
		*)
			case $prog in
			pqueue)
				if [ -z "$sub" ]; then sub=$w; else nops=$((nops + 1)); fi ;;
			daemonize|prefork|preap|palarm)
				# palarm's first operand is INTERVAL; COMMAND follows "--".
				[ "$prog" = palarm ] && continue
				compopt -o default 2>/dev/null || :
				return ;;
			esac ;;
		esac
	done
	qdir=${qdir/#\~/$HOME}

	# --opt=VALUE
	if [[ $cur == --*=* ]]; then
		kind=$(_pkit_kind "$prog" "$sub" "${cur%%=*}")
		_pkit_value "$kind" "${cur#*=}" "$qdir"
		return
	fi

	# The value of the option before the cursor.
	if [[ $prev == -* ]]; then
		kind=$(_pkit_kind "$prog" "$sub" "$prev")
		case $kind in
		''|flag) ;;
		*) _pkit_value "$kind" "$cur" "$qdir"; return ;;
		esac
	fi

	if [[ $cur == -* ]]; then
		opts=$(_pkit_spec "$prog" "$sub" | cut -d' ' -f2- |
		    tr ' ' '\n' | grep -v '?$')
		# pqueue's own --help lists the subcommands' options too.
		if [ "$prog" != pqueue ] || [ -n "$sub" ]; then
			opts+=" $(_pkit_help_options "$cmd" "$sub")"
		fi
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
		if [ "$prog" = pkillall-title ]; then
			COMPREPLY+=($(compgen -P - -W "$(_pkit_signals)" -- "${cur#-}"))
		fi
		# One word each, duplicates out.
		COMPREPLY=($(printf '%s\n' "${COMPREPLY[@]}" | sort -u))
		return
	fi

	case $prog in
	pkillall-title)
		local mode=
		for ((i = 1; i < COMP_CWORD; i++)); do
			# -a, --argv0, or -a among bundled flags (-la).
			[[ ${COMP_WORDS[i]} =~ ^(--argv0|-[0AaeFKlnoqrwc]*a[0AaeFKlnoqrwc]*)$ ]] &&
			    mode=argv0
		done
		COMPREPLY=($(compgen -W "$(_pkit_titles $mode)" -- "$cur"))
		# Inserted as NAME\*, so the shell does not glob it.
		COMPREPLY=("${COMPREPLY[@]/%\*/\\*}") ;;
	pqueue)
		if [ -z "$sub" ]; then
			COMPREPLY=($(compgen -W "push pop run peek len stat ls purge dead" -- "$cur"))
		elif [ "$sub" != ls ] && [ "$nops" -eq 0 ]; then
			_pkit_value queue "$cur" "$qdir"
		fi ;;
	palarm)
		;;	# INTERVAL, TIMEOUT: durations, left alone
	*)
		COMPREPLY=($(compgen -c -- "$cur")) ;;
	esac
}

complete -F _pkit "${_pkit_prefix}daemonize" "${_pkit_prefix}prefork" \
    "${_pkit_prefix}pqueue" "${_pkit_prefix}palarm" "${_pkit_prefix}preap" \
    "${_pkit_prefix}pkillall-title"
