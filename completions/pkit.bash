# bash completion for pkit: daemonize prefork pqueue palarm preap
# pkillall-title. Installed once per program name; one file serves all.

_pkit_signals() {
	local s
	for s in HUP INT QUIT KILL USR1 USR2 PIPE ALRM TERM CHLD CONT STOP \
	    TSTP TTIN TTOU WINCH RTMIN RTMAX; do
		printf '%s\n' "$s"
	done
}

# The option words a program's --help prints.
_pkit_options() {
	"$1" --help 2>/dev/null | grep -oE -- '(^|[[ ,|])--?[A-Za-z0-9][-A-Za-z0-9]*' |
	    sed 's/^[[ ,|]//' | sort -u
}

# Titles of the caller's running processes, first word only.
_pkit_titles() {
	local d t
	for d in /proc/[0-9]*; do
		[ -O "$d" ] || continue
		t=$(tr '\0' ' ' 2>/dev/null < "$d/cmdline") || continue
		[ -n "$t" ] && printf '%s\n' "${t%% *}"
	done | sort -u
}

_pkit() {
	local cur prev prog i
	COMPREPLY=()
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	prog=${COMP_WORDS[0]##*/}

	# After "--" the words belong to the wrapped command.
	for ((i = 1; i < COMP_CWORD; i++)); do
		if [ "${COMP_WORDS[i]}" = -- ]; then
			COMPREPLY=($(compgen -c -- "$cur"))
			return
		fi
	done

	case $prev in
	-s|-S|--signal|-p|--pdeath-signal)
		if [ "$prog" != palarm ] || [ "$prev" != -p ]; then
			COMPREPLY=($(compgen -W "$(_pkit_signals)" -- "$cur"))
			return
		fi ;;
	-u|--user)
		COMPREPLY=($(compgen -u -- "$cur")); return ;;
	-c|--chdir|-d|--dir)
		COMPREPLY=($(compgen -d -- "$cur")); return ;;
	-o|-e|-r|-l|--pidfile|--lockfile)
		COMPREPLY=($(compgen -f -- "$cur")); return ;;
	esac

	case $cur in
	-*)
		COMPREPLY=($(compgen -W "$(_pkit_options "$prog")" -- "$cur"))
		if [ "$prog" = pkillall-title ]; then
			COMPREPLY+=($(compgen -P - -W "$(_pkit_signals)" -- "${cur#-}"))
		fi
		return ;;
	esac

	case $prog in
	pkillall-title)
		COMPREPLY=($(compgen -W "$(_pkit_titles)" -- "$cur")) ;;
	pqueue)
		local sub= w
		for ((i = 1; i < COMP_CWORD; i++)); do
			w=${COMP_WORDS[i]}
			case $w in push|pop|run|peek|len|stat|ls|purge|dead)
				sub=$w; break ;; esac
		done
		if [ -z "$sub" ]; then
			COMPREPLY=($(compgen -W "push pop run peek len stat ls purge dead" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$(pqueue ls 2>/dev/null)" -- "$cur"))
		fi ;;
	*)
		COMPREPLY=($(compgen -c -- "$cur")) ;;
	esac
}

complete -F _pkit daemonize prefork pqueue palarm preap pkillall-title
