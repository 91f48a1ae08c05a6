/* Unit tests for fetchmail-roles: parsing the settings and the access
   matrix. */

#include "fetchmail-roles.hh"
#include "test-common.hh"

using namespace fetchmail;

static RolePolicy policy()
{
	RolePolicy p;
	std::string error;
	if (p.parse("root@example.com, super\n",
		    "dom@example.com:example.com,dom@example.com:Example.ORG. "
		    "other:other.net\tweird:x:@colon.example",
		    error) != 0)
		fail_msg("parse: %s", error.c_str());
	return p;
}

static void test_roles(void **)
{
	RolePolicy p = policy();
	assert_true(p.role_of("root@example.com") == Role::Admin);
	assert_true(p.role_of("root@EXAMPLE.com") == Role::Admin);
	assert_true(p.role_of("Root@example.com") == Role::User);
	assert_true(p.role_of("super") == Role::Admin);
	assert_true(p.role_of("dom@example.com") == Role::DomainAdmin);
	assert_true(p.role_of("other") == Role::DomainAdmin);
	assert_true(p.role_of("weird:x") == Role::DomainAdmin);
	assert_true(p.role_of("alice@example.com") == Role::User);
	assert_true(p.role_of("") == Role::User);
	auto d = p.domains_of("dom@example.com");
	assert_int_equal(d.size(), 2);
	assert_str(d[0], "example.com");
	assert_str(d[1], "example.org");
	assert_str(p.domains_of("weird:x")[0], "colon.example");
	assert_str(role_name(Role::Admin), "admin");
	assert_str(role_name(Role::DomainAdmin), "domain-admin");
	assert_str(role_name(Role::User), "user");
}

static void test_matrix(void **)
{
	RolePolicy p = policy();
	const struct {
		const char *actor;
		const char *target;
		bool allowed;
		const char *reason;
	} cases[] = {
		/* the doveadm operator */
		{ "", "alice@example.com", true, "no actor: doveadm operator" },
		{ "", "anyone", true, "no actor: doveadm operator" },
		/* admin: anyone */
		{ "root@example.com", "alice@example.com", true, "actor root@example.com is admin" },
		{ "root@example.com", "carol@other.org", true, "actor root@example.com is admin" },
		{ "super", "nodomain", true, "actor super is admin" },
		/* domain admin: own domains */
		{ "dom@example.com", "alice@example.com", true, "actor dom@example.com is domain admin of example.com" },
		{ "dom@example.com", "alice@EXAMPLE.COM", true, "actor dom@example.com is domain admin of example.com" },
		{ "dom@example.com", "bob@example.org", true, "actor dom@example.com is domain admin of example.org" },
		{ "dom@example.com", "weird@host@example.org", true, "actor dom@example.com is domain admin of example.org" },
		{ "dom@example.com", "dom@example.com", true, "actor dom@example.com is domain admin of example.com" },
		/* domain admin: other domains */
		{ "dom@example.com", "carol@other.org", false, "actor dom@example.com may not act for carol@other.org" },
		{ "dom@example.com", "carol@sub.example.com", false, "actor dom@example.com may not act for carol@sub.example.com" },
		{ "dom@example.com", "carol@notexample.com", false, "actor dom@example.com may not act for carol@notexample.com" },
		{ "dom@example.com", "example.com", false, "actor dom@example.com may not act for example.com" },
		{ "dom@example.com", "", false, "actor dom@example.com may not act for " },
		{ "other", "x@other.net", true, "actor other is domain admin of other.net" },
		{ "other", "other", true, "actor other acts for itself" },
		{ "other", "x@example.com", false, "actor other may not act for x@example.com" },
		/* users: only themselves */
		{ "alice@example.com", "alice@example.com", true, "actor alice@example.com acts for itself" },
		{ "alice@example.com", "alice@Example.Com", true, "actor alice@example.com acts for itself" },
		{ "alice@example.com", "Alice@example.com", false, "actor alice@example.com may not act for Alice@example.com" },
		{ "alice@example.com", "bob@example.com", false, "actor alice@example.com may not act for bob@example.com" },
		{ "bob@example.com", "alice@other.org", false, "actor bob@example.com may not act for alice@other.org" },
		{ "alice", "alice@example.com", false, "actor alice may not act for alice@example.com" },
		{ "evil\r\nroot", "x", false, "actor evil??root may not act for x" },
	};
	for (const auto &c : cases) {
		std::string reason;
		bool allowed = p.may_access(c.actor, c.target, reason);
		if (allowed != c.allowed)
			fail_msg("%s for %s: expected %s", c.actor, c.target,
				 c.allowed ? "allowed" : "refused");
		assert_str(reason, c.reason);
	}

	/* an empty policy: everybody is a user */
	RolePolicy empty;
	std::string reason;
	assert_false(empty.may_access("root@example.com", "alice@example.com", reason));
	assert_true(empty.may_access("alice@example.com", "alice@example.com", reason));
	assert_true(empty.may_access("", "alice@example.com", reason));
}

static void test_parse_errors(void **)
{
	const char *bad[] = {
		"bob", "bob:", ":example.com", "bob:@", "bob:a@b.example",
		"good:example.com bad",
	};
	for (const char *b : bad) {
		RolePolicy p;
		std::string error;
		assert_int_equal(p.parse("root", b, error), -1);
		assert_prefix(error, "fetchmail_domain_admins: '");
		assert_non_null(strstr(error.c_str(), "' is not login:domain"));
		/* nothing half-parsed stays */
		assert_true(p.role_of("root") == Role::User);
		assert_true(p.role_of("good") == Role::User);
	}
	RolePolicy p;
	std::string error;
	assert_int_equal(p.parse("", "", error), 0);
	assert_int_equal(p.parse(" , ,", " ,", error), 0);
	assert_true(p.role_of("") == Role::User);
	/* parse replaces */
	assert_int_equal(p.parse("a", "", error), 0);
	assert_int_equal(p.parse("b", "", error), 0);
	assert_true(p.role_of("a") == Role::User);
	assert_true(p.role_of("b") == Role::Admin);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_matrix),
		cmocka_unit_test(test_parse_errors),
	};
	return cmocka_run_group_tests(tests, nullptr, nullptr);
}
