package solas.kafka;

import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import org.apache.kafka.common.Configurable;
import org.apache.kafka.common.security.auth.AuthenticationContext;
import org.apache.kafka.common.security.auth.KafkaPrincipal;
import org.apache.kafka.common.security.auth.KafkaPrincipalBuilder;
import org.apache.kafka.common.security.auth.KafkaPrincipalSerde;
import org.apache.kafka.common.security.authenticator.DefaultKafkaPrincipalBuilder;
import org.apache.kafka.common.security.ssl.SslPrincipalMapper;

/**
 * Kafka's default principal builder, except that an unauthenticated client of one of the
 * broker's internal listeners (the Solas workers, the broker itself, the KRaft controller)
 * is {@code User:<solas.internal.principal>}, a super user, instead of User:ANONYMOUS.
 *
 * Without it, the workers' internal listener and the anonymous user-facing listener both
 * give User:ANONYMOUS, and no ACL could tell them apart. Unauthenticated clients of every
 * other listener stay User:ANONYMOUS; SASL clients are User:<their SASL name>; TLS client
 * certificates map as by default ({@code ssl.principal.mapping.rules}). The mapping is
 * made when a connection authenticates, so a request a broker forwards to the controller
 * keeps the principal of its client.
 *
 * Broker settings: {@code solas.internal.listeners} (comma-separated listener names) and
 * {@code solas.internal.principal} (a name no SASL user can take).
 */
public class ListenerPrincipalBuilder
        implements KafkaPrincipalBuilder, KafkaPrincipalSerde, Configurable {

    public static final String LISTENERS = "solas.internal.listeners";
    public static final String PRINCIPAL = "solas.internal.principal";
    public static final String SSL_RULES = "ssl.principal.mapping.rules";

    private DefaultKafkaPrincipalBuilder standard =
            new DefaultKafkaPrincipalBuilder(null, SslPrincipalMapper.fromRules("DEFAULT"));
    private Set<String> internalListeners = Set.of();
    private KafkaPrincipal internal = null;

    @Override
    public void configure(Map<String, ?> configs) {
        Object listeners = configs.get(LISTENERS);
        Object principal = configs.get(PRINCIPAL);
        if (listeners == null || principal == null || principal.toString().isBlank()) {
            throw new IllegalArgumentException(getClass().getName() + " needs the broker "
                    + "settings " + LISTENERS + " and " + PRINCIPAL);
        }
        Object rules = configs.get(SSL_RULES);
        standard = new DefaultKafkaPrincipalBuilder(
                null, SslPrincipalMapper.fromRules(rules == null ? "DEFAULT" : rules.toString()));
        internalListeners = Arrays.stream(listeners.toString().split(","))
                .map(String::trim).filter(name -> !name.isEmpty())
                .map(name -> name.toUpperCase(Locale.ROOT))
                .collect(Collectors.toUnmodifiableSet());
        internal = new KafkaPrincipal(KafkaPrincipal.USER_TYPE, principal.toString().trim());
    }

    @Override
    public KafkaPrincipal build(AuthenticationContext context) {
        KafkaPrincipal principal = standard.build(context);
        String listener = context.listenerName();
        if (internal != null && KafkaPrincipal.ANONYMOUS.equals(principal) && listener != null
                && internalListeners.contains(listener.toUpperCase(Locale.ROOT))) {
            return internal;
        }
        return principal;
    }

    @Override
    public byte[] serialize(KafkaPrincipal principal) {
        return standard.serialize(principal);
    }

    @Override
    public KafkaPrincipal deserialize(byte[] bytes) {
        return standard.deserialize(bytes);
    }
}
