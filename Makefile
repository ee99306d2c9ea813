# dolly: `make demo` and `make test` install, build and run everything on a fresh Debian 12 (as root).
SHELL := /bin/bash
NODE_MODULES := node_modules/.package-lock.json

.PHONY: deps build image demo test test-unit test-it typecheck bench clean

$(NODE_MODULES): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: $(NODE_MODULES)
	bash scripts/deps.sh

build: $(NODE_MODULES)
	rm -rf dist
	npx tsc -p tsconfig.json
	npx esbuild web/app.ts --bundle --format=esm --target=es2022 --minify --log-level=warning --outfile=dist/web/app.js
	cp web/index.html web/style.css dist/web/
	chmod +x bin/dolly

image: deps build
	bin/dolly images build --engine all --loadgen

demo: image
	bin/dolly --root /var/lib/dolly-demo demo --exit
	bin/dolly --root /var/lib/dolly-demo-swarm demo --swarm

typecheck: $(NODE_MODULES)
	npx tsc -p tsconfig.test.json
	npx tsc -p web/tsconfig.json

UNIT_TESTS = $(shell find src test -name '*.test.ts' ! -name '*.it.test.ts' | sort)
IT_TESTS = $(shell find test -name '*.it.test.ts' | sort)
# Integration files that run alone: the Swarm and the demos (one Swarm per engine, fixed roots),
# and the ones that hold a timing bound under load (limits, a hung replica, a filling pool).
IT_ALONE = $(filter $(addprefix test/it/,swarm-% demo% clone-limits.% hung-replica.% pool-grow.%),$(IT_TESTS))
# Of those, the Swarm sandbox suites with their own roots and clone ports run two at a time
# (each sandbox is its own Swarm of Docker-in-Docker nodes named by its root).
IT_SWARM_PAIRED = $(filter $(addprefix test/it/,swarm-backup.% swarm-deploy.% swarm-mysql.%),$(IT_TESTS))
IT_SOLO = $(filter-out $(IT_SWARM_PAIRED),$(IT_ALONE))
# The others three at a time: each has its own root, ports, servers and names (mostly waiting on
# servers and Docker: three at a time took 18.3 min on 2 cores where two took 23.9).
IT_PAIRED = $(filter-out $(IT_ALONE),$(IT_TESTS))
NODE_TEST = node --import tsx --test --test-concurrency=1 --test-timeout=1200000
NODE_TEST_PAIRED = node --import tsx --test --test-concurrency=2 --test-timeout=1200000
NODE_TEST_THREE = node --import tsx --test --test-concurrency=3 --test-timeout=1200000

test-unit: build typecheck
	$(NODE_TEST) $(UNIT_TESTS)

test-it: image
	$(NODE_TEST_THREE) $(IT_PAIRED)
	$(NODE_TEST_PAIRED) $(IT_SWARM_PAIRED)
	$(NODE_TEST) $(IT_SOLO)

test: image typecheck
	$(NODE_TEST) $(UNIT_TESTS)
	$(NODE_TEST_THREE) $(IT_PAIRED)
	$(NODE_TEST_PAIRED) $(IT_SWARM_PAIRED)
	$(NODE_TEST) $(IT_SOLO)

bench: image
	node --import tsx bench/bench.ts
	node --import tsx bench/provision.ts
	node --import tsx bench/dump-sessions.ts --sessions 1,2
	node --import tsx bench/swarm.ts
	node --import tsx bench/cpu-floor.ts
	node --import tsx bench/lag.ts --json
	node --import tsx bench/mask.ts --json
	node --import tsx bench/pitr.ts --json
	node --import tsx bench/lag.ts --flavor mysql --loads single@1000,single@3000,single@max,multi@max,mixed@max --json

clean:
	rm -rf dist
