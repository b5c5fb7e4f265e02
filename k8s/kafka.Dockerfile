# Strimzi's Kafka image plus Solas's principal builder (solas.kafka.ListenerPrincipalBuilder,
# see k8s/base/kafka/kafka.yaml): the Kafka CR's spec.kafka.image. Build from the
# repository root, with the Strimzi release and Kafka version of the operator:
#   docker build -f k8s/kafka.Dockerfile -t solas-kafka:dev .
# The class is compiled against the image's own Kafka jars, in a JDK stage.

ARG STRIMZI_KAFKA=quay.io/strimzi/kafka:0.45.0-kafka-3.9.0
FROM ${STRIMZI_KAFKA} AS kafka

FROM eclipse-temurin:17-jdk AS build
COPY --from=kafka /opt/kafka/libs /kafka-libs
COPY solas/stack/ListenerPrincipalBuilder.java /src/
RUN javac --release 17 -cp '/kafka-libs/*' -d /classes /src/ListenerPrincipalBuilder.java \
    && jar --create --file /solas-principal-builder.jar -C /classes .

FROM kafka
COPY --from=build /solas-principal-builder.jar /opt/kafka/libs/
