# A Lambda function's image with rapid as its entrypoint, FROM scratch:
# nothing in it but the static rapid, the function's static bootstrap and
# its extensions. scripts/image lays out the build context and builds it:
#
#   scripts/image --tag my-fn --bootstrap path/to/static/bootstrap \
#       [--extension path/to/static/extension ...]
#
# The context holds `rapid` (scripts/build-static), `bootstrap` and an
# `extensions/` directory (empty when the function has none).
FROM scratch
COPY rapid /usr/local/bin/rapid
COPY bootstrap /var/task/bootstrap
COPY extensions/ /opt/extensions/
ENV LAMBDA_TASK_ROOT=/var/task
WORKDIR /var/task
# The Invoke API, as aws-lambda-rie serves it (0.0.0.0:8080 by default).
EXPOSE 8080
# SIGTERM (docker stop) is Lambda's shutdown: SHUTDOWN to the extensions,
# then the runtime, then exit 0 within the grace period.
STOPSIGNAL SIGTERM
# Readiness through rapid itself (the image has no curl): 200 from /_/ready
# on the front door's port (RAPID_RUNTIME_INTERFACE_EMULATOR_ADDRESS, PORT,
# else 8080). Swarm routes to a task once it is healthy.
HEALTHCHECK --interval=5s --timeout=6s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/rapid", "--probe", "ready"]
ENTRYPOINT ["/usr/local/bin/rapid"]
CMD ["/var/task/bootstrap"]
