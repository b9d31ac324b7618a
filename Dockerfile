# The operator image, for machines with a registry. The local test cluster builds the same layout
# without Docker (tests/env/images.ts), because this machine has no Docker engine or registry; both
# take their file list from .dockerignore.
FROM denoland/deno:bin-2.8.3 AS deno

FROM debian:bookworm-slim AS build
COPY --from=deno /deno /usr/local/bin/deno
WORKDIR /app
# Everything but what .dockerignore lists: a directory added to the sources is copied without
# editing this file (forgetting observability/ once made the image unbuildable).
COPY . ./
ENV DENO_DIR=/deno-dir
RUN deno install --entrypoint mod.ts

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=deno /deno /usr/local/bin/deno
COPY --from=build /app /app
COPY --from=build /deno-dir /deno-dir
ENV DENO_DIR=/deno-dir DENO_NO_UPDATE_CHECK=1 HOME=/tmp
WORKDIR /app
USER 65532:65532
# The young generation's cap is tests/env/images/operator.ts's operatorV8Flags (why is there).
ENTRYPOINT ["/usr/local/bin/deno", "run", "--cached-only", "--allow-net", "--allow-read", "--allow-write", "--allow-env", "--allow-sys", "--v8-flags=--max-semi-space-size=2", "/app/mod.ts"]
CMD ["run"]
