-- make bench: POST /v1/leads/batch of BENCH_BATCH_SIZE new leads, counting the items an
-- answer reports as failed (bench/common.lua has the rest).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
request = post_batch
response = count_failed_items
