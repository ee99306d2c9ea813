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
NODE_TEST = node --import tsx --test --test-concurrency=1 --test-timeout=1200000

test-unit: build typecheck
	$(NODE_TEST) $(UNIT_TESTS)

test-it: image
	$(NODE_TEST) $(IT_TESTS)

test: image typecheck
	$(NODE_TEST) $(UNIT_TESTS) $(IT_TESTS)

bench: image
	node --import tsx bench/bench.ts
	node --import tsx bench/provision.ts
	node --import tsx bench/dump-sessions.ts --sessions 1,2
	node --import tsx bench/swarm.ts
	node --import tsx bench/cpu-floor.ts

clean:
	rm -rf dist
