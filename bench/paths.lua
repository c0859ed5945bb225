-- bench/reports.sh: GETs of the paths in BENCH_DATA/$BENCH_PATHS (bench/common.lua has the rest).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
request = get_path
