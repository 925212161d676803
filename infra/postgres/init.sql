CREATE DATABASE keygate_keys;
CREATE DATABASE keygate_usage;
