# Loaded by tests that need a real redis-server: `load helpers/redis`.
#
# redis_start [ARGS...]: start a private redis-server on 127.0.0.1 with a
# free port and a directory of its own under $BATS_TEST_TMPDIR; sets
# REDIS_PORT, REDIS_PID, REDIS_DIR, REDIS_URL (redis://127.0.0.1:PORT).
# Port 0 is not possible for redis, so a random port below the ephemeral
# range is tried; when another process holds it the server exits at once
# and the next port is tried. Teardown stops it by pid (spawn_bg).

redis_need() {
	command -v redis-server >/dev/null ||
		skip "redis-server is not installed (apt-get install redis-server)"
}

# Answers (a server with requirepass says NOAUTH: up all the same).
redis_ping() {
	case $(redis-cli -p "$1" PING 2>/dev/null) in
	PONG|NOAUTH*) return 0 ;;
	esac
	return 1
}

redis_start() {
	local try port
	REDIS_DIR=${REDIS_DIR:-$BATS_TEST_TMPDIR/redis}
	mkdir -p "$REDIS_DIR"
	for try in $(seq 1 30); do
		port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 12000 ))
		spawn_bg redis-server --bind 127.0.0.1 --port "$port" \
		    --dir "$REDIS_DIR" --save '' --daemonize no \
		    --logfile "$REDIS_DIR/log" "$@"
		REDIS_PID=$!
		if wait_for 10 redis_up "$REDIS_PID" "$port"; then
			alive "$REDIS_PID" || continue
			REDIS_PORT=$port
			REDIS_URL=redis://127.0.0.1:$port
			return 0
		fi
		kill -KILL "$REDIS_PID" 2>/dev/null
		wait "$REDIS_PID" 2>/dev/null
	done
	echo "could not start redis-server" >&2
	return 1
}

# Up (answers on our port) or gone (lost the port race).
redis_up() {
	alive "$1" || return 0
	redis_ping "$2"
}

# redis_restart [ARGS...]: stop the server (SHUTDOWN NOSAVE is not used:
# with AOF on, the log is what survives) and start it again on the same
# port and directory.
redis_stop() {
	kill -TERM "$REDIS_PID" 2>/dev/null
	wait_for 10 gone "$REDIS_PID"
	wait "$REDIS_PID" 2>/dev/null
	return 0
}

redis_start_again() {
	spawn_bg redis-server --bind 127.0.0.1 --port "$REDIS_PORT" \
	    --dir "$REDIS_DIR" --save '' --daemonize no \
	    --logfile "$REDIS_DIR/log" "$@"
	REDIS_PID=$!
	wait_for 10 redis_ping "$REDIS_PORT"
}
